// libFuzzer target: the tag extraction that pulls an optimizer's new value (and a parsed
// evaluation) out of an LLM answer. Input layout: byte 0 and byte 1 are the lengths (mod 16) of
// the opening and closing tags, which follow; the rest is the answer.
//
// What must hold: no crash, and a found value is a piece of the answer that starts after the
// opening tag and holds no closing tag.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "util/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t open_size = std::min<size_t>(data[0] % 16, input.size());
  const size_t close_size = std::min<size_t>(data[1] % 16, input.size() - open_size);
  const std::string_view open = input.substr(0, open_size);
  const std::string_view close = input.substr(open_size, close_size);
  const std::string_view text = input.substr(open_size + close_size);

  const auto value = tg::util::extract_tagged(text, open, close);
  if (!value) {
    if (text.find(open) != std::string_view::npos) std::abort();
    return 0;
  }
  const size_t after_open = text.find(open) + open.size();
  if (text.find(*value, after_open) == std::string_view::npos) std::abort();
  if (!close.empty() && value->find(close) != std::string::npos) std::abort();
  return 0;
}
