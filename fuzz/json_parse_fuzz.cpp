// libFuzzer target: parse_json() against nlohmann::json::parse(), whose document it must build
// kind for kind (Note [Parsing JSON with simdjson]).
//
// What must hold: for any input, documents with the same text and the same kind at every node,
// or the same exception text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "util/json_parse.h"

namespace {

using Json = nlohmann::json;

bool same_kinds(const Json& a, const Json& b) {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string expected_error;
  Json expected;
  try {
    expected = Json::parse(text);
  } catch (const Json::exception& e) {
    expected_error = e.what();
  }
  try {
    const Json document = tg::util::parse_json(text);
    if (!expected_error.empty() || !same_kinds(document, expected) ||
        document.dump(-1, ' ', false, Json::error_handler_t::replace) !=
            expected.dump(-1, ' ', false, Json::error_handler_t::replace)) {
      std::abort();
    }
  } catch (const Json::exception& e) {
    if (e.what() != expected_error) std::abort();
  }
  return 0;
}
