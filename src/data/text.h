// Small text helpers shared by the data sources: UTF-8 decoding and Python's notions of
// whitespace and digits, which the reference's answer parsing depends on.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tg::data {

// One decoded code point and the bytes it spans. Invalid UTF-8 decodes byte by byte as
// U+FFFD, so malformed input never throws and never matches a digit or a space.
struct CodePoint {
  char32_t value;
  std::size_t size;
};

CodePoint decode_utf8(std::string_view text, std::size_t pos);

bool is_python_space(char32_t cp);

// Python's str.isdigit(); when it is a decimal digit (accepted by int()), *value gets 0..9.
bool is_python_digit(char32_t cp, int* value);

// str.split() with no argument: runs of Unicode whitespace separate, no empty tokens.
std::vector<std::string_view> python_split(std::string_view text);

// Trims ASCII whitespace (space, \t, \n, \v, \f, \r) at both ends.
std::string_view trim_ascii(std::string_view text);

}  // namespace tg::data
