#include "util/text.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "textgrad/errors.h"

namespace tg::util {

std::string trim(std::string_view text) {
  const char* space = " \t\r\n\f\v";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(space);
  return std::string(text.substr(begin, end - begin + 1));
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument(fmt::format("cannot open '{}': check that the file exists", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace tg::util
