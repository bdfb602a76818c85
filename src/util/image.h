// Image type detection from magic bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tg::util {

// "image/png", "image/jpeg", "image/gif" or "image/webp"; nullopt for anything else.
std::optional<std::string> detect_image_type(std::string_view bytes);

}  // namespace tg::util
