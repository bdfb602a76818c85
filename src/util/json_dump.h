// Serializing JSON documents on the per-call path: Note [Dumping JSON in runs].
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace tg::util {

// What a string that is not valid UTF-8 does: kThrow as nlohmann's default (type_error 316),
// kReplace as its error_handler_t::replace (U+FFFD in place of each bad sequence).
enum class InvalidUtf8 { kThrow, kReplace };

// Exactly the bytes of `value.dump(indent, ' ', false, <handler>)`: compact when indent < 0,
// otherwise indent spaces a level. Thread-safe (no shared state).
std::string dump_json(const nlohmann::json& value, int indent = -1,
                      InvalidUtf8 invalid = InvalidUtf8::kThrow);
std::string dump_json(const nlohmann::ordered_json& value, int indent = -1,
                      InvalidUtf8 invalid = InvalidUtf8::kThrow);

// Appends `text` as a quoted JSON string, escaped as nlohmann's dump() escapes it. False when
// `text` is not valid UTF-8; `out` then holds part of the string.
bool append_json_string(std::string& out, std::string_view text);

}  // namespace tg::util
