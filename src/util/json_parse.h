// Parsing JSON documents on the per-call path: Note [Parsing JSON with simdjson].
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string_view>

namespace tg::util {

// Exactly what nlohmann::json::parse(text) returns, or throws what it throws. Thread-safe.
nlohmann::json parse_json(std::string_view text);

// Exactly what nlohmann::json::parse(text, nullptr, false) returns: the document, or a
// discarded value when `text` is not JSON. Thread-safe.
nlohmann::json parse_json_or_discarded(std::string_view text);

// parse_json() where the document type is a template parameter (headers that only see
// <nlohmann/json_fwd.hpp> cannot name the result otherwise). Defined for nlohmann::json.
template <class Json>
Json parse_json_as(std::string_view text);
template <>
nlohmann::json parse_json_as<nlohmann::json>(std::string_view text);

// The fast path of parse_json(): the same document, or nothing where nlohmann has to parse.
// Exposed for the tests.
std::optional<nlohmann::json> parse_json_quickly(std::string_view text);

}  // namespace tg::util
