// Capture: keeps the beginning and the end of a stream whose length has no bound.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tg::code {

// Keeps the first and last `limit / 2` bytes of everything appended; text() marks the gap.
class Capture {
 public:
  explicit Capture(std::size_t limit) : head_limit_(limit / 2), tail_limit_(limit - limit / 2) {}

  void append(std::string_view data);
  std::size_t total() const { return total_; }
  std::string text() const;

 private:
  std::size_t head_limit_;
  std::size_t tail_limit_;
  std::size_t total_ = 0;
  std::string head_;
  std::string tail_;  // grows to twice its limit, then drops its front half
};

}  // namespace tg::code
