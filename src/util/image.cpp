#include "util/image.h"

#include <cstdint>

#include <fmt/format.h>

namespace tg::util {
namespace {

std::uint32_t byte_at(std::string_view bytes, std::size_t i) {
  return static_cast<unsigned char>(bytes[i]);
}

std::uint32_t big_endian32(std::string_view bytes, std::size_t at) {
  return byte_at(bytes, at) << 24 | byte_at(bytes, at + 1) << 16 | byte_at(bytes, at + 2) << 8 |
         byte_at(bytes, at + 3);
}

std::uint32_t little_endian32(std::string_view bytes, std::size_t at) {
  return byte_at(bytes, at) | byte_at(bytes, at + 1) << 8 | byte_at(bytes, at + 2) << 16 |
         byte_at(bytes, at + 3) << 24;
}

// Chunks: length (4, big-endian), type (4), data, CRC (4); the last is IEND.
bool png_complete(std::string_view bytes) {
  std::size_t at = 8;
  while (at + 12 <= bytes.size()) {
    const std::size_t length = big_endian32(bytes, at);
    if (bytes.substr(at + 4, 4) == "IEND") return true;
    if (length > bytes.size() - at - 12) return false;
    at += 12 + length;
  }
  return false;
}

bool is_restart_marker(std::uint32_t marker) { return marker >= 0xD0 && marker <= 0xD7; }

// Segments: 0xFF, a marker byte, then (most markers) a 2-byte big-endian length. After a
// start-of-scan segment comes entropy-coded data, in which 0xFF is followed by 0x00 (a literal
// byte) or a restart marker; any other marker ends it. Data after EOI (camera trailers) is
// allowed; an embedded thumbnail's EOI is skipped over as part of its APP segment.
bool jpeg_complete(std::string_view bytes) {
  std::size_t at = 2;
  while (at + 2 <= bytes.size()) {
    if (byte_at(bytes, at) != 0xFF) return false;
    const std::uint32_t marker = byte_at(bytes, at + 1);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xD9) return true;
    if (marker == 0x01 || is_restart_marker(marker)) {
      at += 2;
      continue;
    }
    if (at + 4 > bytes.size()) return false;
    const std::size_t length = byte_at(bytes, at + 2) << 8 | byte_at(bytes, at + 3);
    if (length < 2 || at + 2 + length > bytes.size()) return false;
    at += 2 + length;
    if (marker != 0xDA) continue;
    while (at + 1 < bytes.size() &&
           !(byte_at(bytes, at) == 0xFF && byte_at(bytes, at + 1) != 0x00 &&
             !is_restart_marker(byte_at(bytes, at + 1)))) {
      ++at;
    }
  }
  return false;
}

// Skips a run of data sub-blocks (a size byte, then that many bytes; a zero size ends the run).
std::optional<std::size_t> skip_sub_blocks(std::string_view bytes, std::size_t at) {
  while (at < bytes.size()) {
    const std::size_t size = byte_at(bytes, at);
    if (size == 0) return at + 1;
    at += 1 + size;
  }
  return std::nullopt;
}

std::size_t color_table_size(std::uint32_t packed) {
  return (packed & 0x80) != 0 ? 3u << ((packed & 0x07) + 1) : 0;
}

// Header (6), screen descriptor (7), optional global color table, then extensions (0x21) and
// images (0x2C, descriptor, optional local color table, LZW code size, data) up to the
// trailer (0x3B).
bool gif_complete(std::string_view bytes) {
  if (bytes.size() < 13) return false;
  std::size_t at = 13 + color_table_size(byte_at(bytes, 10));
  while (at < bytes.size()) {
    const std::uint32_t block = byte_at(bytes, at);
    if (block == 0x3B) return true;
    std::optional<std::size_t> next;
    if (block == 0x21 && at + 2 <= bytes.size()) {
      next = skip_sub_blocks(bytes, at + 2);
    } else if (block == 0x2C && at + 10 < bytes.size()) {
      next = skip_sub_blocks(bytes, at + 11 + color_table_size(byte_at(bytes, at + 9)));
    }
    if (!next) return false;
    at = *next;
  }
  return false;
}

bool webp_complete(std::string_view bytes) {
  return bytes.size() >= 12 && little_endian32(bytes, 4) <= bytes.size() - 8;
}

std::string megabytes(std::size_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

}  // namespace

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

std::optional<std::string> truncation_problem(std::string_view bytes, std::string_view type) {
  std::string_view missing;
  if (type == "image/png" && !png_complete(bytes)) missing = "the PNG ends before its IEND chunk";
  if (type == "image/jpeg" && !jpeg_complete(bytes))
    missing = "the JPEG ends before its end-of-image marker";
  if (type == "image/gif" && !gif_complete(bytes)) missing = "the GIF ends before its trailer";
  if (type == "image/webp" && !webp_complete(bytes))
    missing = "the WebP is shorter than its header says";
  if (missing.empty()) return std::nullopt;
  return fmt::format(
      "{} ({} bytes): the file is truncated, e.g. by an interrupted download or copy; get the "
      "whole file again",
      missing, bytes.size());
}

std::optional<std::size_t> max_image_bytes(std::string_view provider) {
  if (provider == "openai" || provider == "azure") return 20'000'000;
  if (provider == "anthropic") return 5 * 1024 * 1024 / 4 * 3;
  if (provider == "gemini") return 15'000'000;
  return std::nullopt;
}

std::optional<std::string> image_size_problem(std::size_t size, std::string_view provider) {
  const std::optional<std::size_t> limit = max_image_bytes(provider);
  if (!limit || size <= *limit) return std::nullopt;
  return fmt::format(
      "the image is {}, and {} accepts images of at most {}: scale it down or save it as a "
      "JPEG",
      megabytes(size), provider, megabytes(*limit));
}

}  // namespace tg::util
