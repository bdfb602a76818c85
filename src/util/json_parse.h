// Parsing JSON documents on the per-call path: Note [Parsing JSON with simdjson].
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string_view>

namespace tg::util {

// Exactly what nlohmann::json::parse(text) returns, or throws what it throws. Thread-safe.
nlohmann::json parse_json(std::string_view text);

// The fast path of parse_json(): the same document, or nothing where nlohmann has to parse.
// Exposed for the tests.
std::optional<nlohmann::json> parse_json_quickly(std::string_view text);

}  // namespace tg::util
