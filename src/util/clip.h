// Keeps huge values (a many-megabyte answer, a pasted file) out of messages and reports.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tg::util {

// `text` unchanged when it has at most `max_bytes` bytes; otherwise its beginning and end with
// a marker saying how much was cut between them, e.g. "abc[... 5242880 bytes cut ...]xyz".
// Cuts fall between UTF-8 characters, so the result stays valid UTF-8 if the text was.
std::string clip(std::string_view text, std::size_t max_bytes = 2000);

}  // namespace tg::util
