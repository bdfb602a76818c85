// Lines of a text, for the code subsystem's parsers and diffs.
#pragma once

#include <string>
#include <vector>

namespace tg::code {

// The lines of `text` without their '\n'; a final '\n' does not start another line.
inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace tg::code
