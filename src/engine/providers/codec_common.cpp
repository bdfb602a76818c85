#include "engine/providers/codec_common.h"

#include <fmt/format.h>

#include "textgrad/errors.h"

namespace tg::providers {

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  std::uint32_t n = static_cast<std::uint8_t>(bytes[i]) << 16;
  if (rest == 2) n |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
  out += kAlphabet[(n >> 18) & 63];
  out += kAlphabet[(n >> 12) & 63];
  out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
  out += '=';
  return out;
}

std::string data_url(std::string_view media_type, std::string_view bytes) {
  return fmt::format("data:{};base64,{}", media_type, base64_encode(bytes));
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string schema_name(std::string_view name) {
  if (name.empty()) return "answer";
  std::string out(name.substr(0, 64));
  for (char& c : out) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!allowed) c = '_';
  }
  return out;
}

std::unique_ptr<Codec> make_codec(std::string_view provider) {
  if (provider == "openai") return make_openai_codec(/*azure=*/false);
  if (provider == "azure") return make_openai_codec(/*azure=*/true);
  if (provider == "anthropic") return make_anthropic_codec();
  if (provider == "gemini") return make_gemini_codec();
  throw InvalidArgument(fmt::format(
      "unknown provider \"{}\"; expected one of openai, azure, anthropic, gemini", provider));
}

}  // namespace tg::providers
