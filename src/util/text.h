// Small text helpers shared across subsystems.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tg::util {

std::string trim(std::string_view text);

// Unchanged up to 2n words (split on single spaces); otherwise the first n words, " (...) ",
// and the last n words.
std::string short_value(const std::string& text, int n = 10);

std::string join(const std::vector<std::string>& parts, std::string_view separator);

// The trimmed text after the first `open` tag, cut at the first following `close` tag (or
// the end of the text when there is none). nullopt when `open` does not occur.
std::optional<std::string> extract_tagged(std::string_view text, std::string_view open,
                                          std::string_view close);

// Escapes braces so the text can be embedded in a template as literal text.
std::string escape_braces(std::string_view text);

// Reads a whole file; throws InvalidArgument naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace tg::util
