#include "util/image.h"

namespace tg::util {

std::optional<std::string> detect_image_type(std::string_view bytes) {
  auto starts = [&](std::string_view magic, size_t offset = 0) {
    return bytes.size() >= offset + magic.size() && bytes.substr(offset, magic.size()) == magic;
  };
  if (starts("\x89PNG\r\n\x1a\n")) return "image/png";
  if (starts("\xff\xd8\xff")) return "image/jpeg";
  if (starts("GIF87a") || starts("GIF89a")) return "image/gif";
  if (starts("RIFF") && starts("WEBP", 8)) return "image/webp";
  return std::nullopt;
}

}  // namespace tg::util
