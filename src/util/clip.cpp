#include "util/clip.h"

#include <fmt/format.h>

namespace tg::util {
namespace {

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Moves a cut position back (or forward) to the start of a UTF-8 character.
std::size_t char_boundary(std::string_view text, std::size_t at, bool forward) {
  while (at > 0 && at < text.size() && is_continuation_byte(text[at])) forward ? ++at : --at;
  return at;
}

}  // namespace

std::string clip(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  const std::size_t head = char_boundary(text, max_bytes * 2 / 3, /*forward=*/false);
  const std::size_t tail = char_boundary(text, text.size() - max_bytes / 3, /*forward=*/true);
  return fmt::format("{}[... {} bytes cut ...]{}", text.substr(0, head), tail - head,
                     text.substr(tail));
}

}  // namespace tg::util
