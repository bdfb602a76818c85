#include "code/capture.h"

#include <fmt/format.h>

namespace tg::code {

void Capture::append(std::string_view data) {
  total_ += data.size();
  if (head_.size() < head_limit_) {
    const std::size_t take = std::min(head_limit_ - head_.size(), data.size());
    head_.append(data.substr(0, take));
    data.remove_prefix(take);
  }
  tail_.append(data);
  if (tail_.size() > 2 * tail_limit_) tail_.erase(0, tail_.size() - tail_limit_);
}

std::string Capture::text() const {
  const std::size_t tail = std::min(tail_.size(), tail_limit_);
  const std::size_t dropped = total_ - head_.size() - tail;
  if (dropped == 0) return head_ + tail_.substr(tail_.size() - tail);
  return fmt::format("{}\n[... {} bytes not kept ...]\n{}", head_, dropped,
                     tail_.substr(tail_.size() - tail));
}

}  // namespace tg::code
