#include "data/text.h"

#include <algorithm>
#include <array>

#include "data/unicode_tables.h"

namespace tg::data {

namespace {
constexpr char32_t kReplacement = 0xFFFD;

bool is_continuation(unsigned char byte) { return (byte & 0xC0U) == 0x80U; }
}  // namespace

CodePoint decode_utf8(std::string_view text, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80U) return {lead, 1};
  std::size_t size = 0;
  char32_t value = 0;
  if ((lead & 0xE0U) == 0xC0U) {
    size = 2;
    value = lead & 0x1FU;
  } else if ((lead & 0xF0U) == 0xE0U) {
    size = 3;
    value = lead & 0x0FU;
  } else if ((lead & 0xF8U) == 0xF0U) {
    size = 4;
    value = lead & 0x07U;
  } else {
    return {kReplacement, 1};
  }
  if (pos + size > text.size()) return {kReplacement, 1};
  for (std::size_t i = 1; i < size; ++i) {
    const auto byte = static_cast<unsigned char>(text[pos + i]);
    if (!is_continuation(byte)) return {kReplacement, 1};
    value = (value << 6) | (byte & 0x3FU);
  }
  return {value, size};
}

bool is_python_space(char32_t cp) {
  // Answers are mostly ASCII: one lookup instead of a scan of the table per character.
  static const std::array<bool, 128> ascii = [] {
    std::array<bool, 128> spaces{};
    for (char32_t space : kPythonWhitespace) {
      if (space < spaces.size()) spaces[space] = true;
    }
    return spaces;
  }();
  if (cp < ascii.size()) return ascii[cp];
  return std::find(kPythonWhitespace.begin(), kPythonWhitespace.end(), cp) !=
         kPythonWhitespace.end();
}

bool is_python_digit(char32_t cp, int* value) {
  if (cp >= U'0' && cp <= U'9') {  // the common case, without the table search
    if (value) *value = static_cast<int>(cp - U'0');
    return true;
  }
  for (const DigitRange& range : kDigitRanges) {
    if (cp < range.first) return false;  // the table is sorted
    if (cp <= range.last) {
      if (value) *value = range.decimal ? static_cast<int>((cp - range.first) % 10) : -1;
      return true;
    }
  }
  return false;
}

std::vector<std::string_view> python_split(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t start = std::string_view::npos;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const CodePoint cp = decode_utf8(text, pos);
    if (is_python_space(cp.value)) {
      if (start != std::string_view::npos) tokens.push_back(text.substr(start, pos - start));
      start = std::string_view::npos;
    } else if (start == std::string_view::npos) {
      start = pos;
    }
    pos += cp.size;
  }
  if (start != std::string_view::npos) tokens.push_back(text.substr(start));
  return tokens;
}

std::string_view trim_ascii(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

}  // namespace tg::data
