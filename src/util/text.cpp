#include "util/text.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include "textgrad/errors.h"

namespace tg::util {

namespace {

constexpr std::string_view kSpace = " \t\r\n\f\v";

char lower_char(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_ci(char a, char b) { return lower_char(a) == lower_char(b); }

}  // namespace

std::string_view trim_left(std::string_view text) {
  const size_t begin = text.find_first_not_of(kSpace);
  return begin == std::string_view::npos ? std::string_view() : text.substr(begin);
}

std::string_view trim_view(std::string_view text) {
  text = trim_left(text);
  return text.substr(0, text.find_last_not_of(kSpace) + 1);
}

std::string trim(std::string_view text) { return std::string(trim_view(text)); }

bool is_blank(std::string_view text) { return trim_left(text).empty(); }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower_char(c);
  return out;
}

bool equals_ci(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), same_ci);
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), same_ci) !=
         haystack.end();
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

std::string short_value(const std::string& text, int n) {
  std::vector<std::string_view> words;
  std::string_view rest = text;
  while (true) {
    size_t space = rest.find(' ');
    words.push_back(rest.substr(0, space));
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  if (words.size() <= static_cast<size_t>(2 * n)) return text;
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i) out += ' ';
    out += words[i];
  }
  out += " (...) ";
  for (size_t i = words.size() - n; i < words.size(); ++i) {
    if (i != words.size() - n) out += ' ';
    out += words[i];
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

std::optional<std::string> extract_tagged(std::string_view text, std::string_view open,
                                          std::string_view close) {
  size_t start = text.find(open);
  if (start == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(start + open.size());
  size_t end = rest.find(close);
  return trim(rest.substr(0, end));
}

std::string escape_braces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    out += c;
    if (c == '{' || c == '}') out += c;
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw InvalidArgument(
        fmt::format("'{}' is a directory, not a file: give the path of a file in it", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InvalidArgument(
        fmt::format("cannot open '{}': {}; check that the file exists and is "
                    "readable",
                    path, std::generic_category().message(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InvalidArgument(fmt::format("error while reading '{}'", path));
  return buffer.str();
}

std::size_t find_either(std::string_view text, std::size_t from, char a, char b) {
  std::size_t at = std::min(from, text.size());
#if defined(__SSE2__)
  const __m128i first = _mm_set1_epi8(a);
  const __m128i second = _mm_set1_epi8(b);
  while (text.size() - at >= 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + at));
    const int mask = _mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(bytes, first), _mm_cmpeq_epi8(bytes, second)));
    if (mask != 0) return at + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    at += 16;
  }
#endif
  while (at < text.size() && text[at] != a && text[at] != b) ++at;
  return at;
}

}  // namespace tg::util
