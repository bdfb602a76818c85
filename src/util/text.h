// Small text helpers shared across subsystems.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tg::util {

// ASCII whitespace (space, \t, \n, \v, \f, \r) removed at both ends / at the start.
std::string_view trim_view(std::string_view text);
std::string_view trim_left(std::string_view text);
std::string trim(std::string_view text);
bool is_blank(std::string_view text);

// ASCII case folding, locale-independent.
std::string lower(std::string_view text);
bool equals_ci(std::string_view a, std::string_view b);
bool contains_ci(std::string_view haystack, std::string_view needle);

// A whole-string decimal integer; nullopt for anything else (signs, spaces, overflow).
std::optional<int> parse_int(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not split a UTF-8
// sequence: the one place text is cut for messages and excerpts.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

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

// The position of the first `a` or `b` in `text` from `from` on, or text.size(). Sixteen bytes
// at a time where SSE2 is there: templates are scanned for every request.
std::size_t find_either(std::string_view text, std::size_t from, char a, char b);

// Reads a whole file. Throws InvalidArgument naming the path and saying what is wrong when it
// cannot: missing, unreadable, or a directory (which a stream would read as empty text).
std::string read_file(const std::string& path);

}  // namespace tg::util
