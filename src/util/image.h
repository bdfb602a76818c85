// Image checks made before an image is sent: its type (from the magic bytes), that the file is
// complete, and the providers' size limits.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tg::util {

// "image/png", "image/jpeg", "image/gif" or "image/webp"; nullopt for anything else.
std::optional<std::string> detect_image_type(std::string_view bytes);

// Why the image of `type` (as detect_image_type returns) is incomplete, or nullopt when its
// structure ends properly: a PNG's chunks up to IEND, a JPEG's segments up to the EOI marker,
// a GIF's blocks up to its trailer, a WebP's RIFF length. A truncated download or copy fails
// here rather than at the provider (or worse, being described from its top half).
std::optional<std::string> truncation_problem(std::string_view bytes, std::string_view type);

// Note [Image size limits]
// What the providers document, turned into a limit on the file's size (images travel
// base64-encoded, which adds a third):
//   openai, azure: 20 MB per image (OpenAI's vision guide).
//   anthropic:     5 MB per image as sent (base64), so 3.75 MiB of file.
//   gemini:        20 MB for the whole inline request, so at most 15 MB of file for one image.
// Other providers (local servers, compatible clouds) document none: the server decides.
// MB here is 10^6 bytes and MiB 2^20, the smaller reading where a provider is unclear.

// The largest image file, in bytes, that `provider` (an engine name's provider part, e.g.
// "anthropic") accepts; nullopt when it documents no limit.
std::optional<std::size_t> max_image_bytes(std::string_view provider);

// Why an image of `size` bytes cannot go to `provider` (what the limit is and what to do), or
// nullopt when it can.
std::optional<std::string> image_size_problem(std::size_t size, std::string_view provider);

}  // namespace tg::util
