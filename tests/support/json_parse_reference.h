// What util::parse_json() must equal: the document nlohmann::json::parse() builds, kind for
// kind, or the exception it throws (Note [Parsing JSON with simdjson]). Shared by the test
// and a fuzz target.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "util/json_parse.h"

namespace tg::util::testing {

inline bool same_kinds(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.is_object()) {
    for (auto it = a.begin(), jt = b.begin(); it != a.end(); ++it, ++jt) {
      if (it.key() != jt.key() || !same_kinds(*it, *jt)) return false;
    }
  } else if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!same_kinds(a[i], b[i])) return false;
    }
  }
  return true;
}

// "" when parse_json() and json::parse() make the same of `text`: the same document, or the
// same error. Otherwise what differed.
inline std::string parse_difference(const std::string& text) {
  using Json = nlohmann::json;
  const auto dump = [](const Json& document) {
    return document.dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  std::string expected_error;
  Json expected;
  try {
    expected = Json::parse(text);
  } catch (const Json::exception& e) {
    expected_error = e.what();
  }
  try {
    const Json document = parse_json(text);
    if (!expected_error.empty()) return "parsed what nlohmann refuses: " + expected_error;
    if (dump(document) != dump(expected) || !same_kinds(document, expected)) {
      return dump(document) + " vs " + dump(expected);
    }
  } catch (const Json::exception& e) {
    if (e.what() != expected_error) return std::string(e.what()) + " vs " + expected_error;
  }
  return "";
}

}  // namespace tg::util::testing
