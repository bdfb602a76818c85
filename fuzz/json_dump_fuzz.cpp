// libFuzzer target: dump_json() against nlohmann's dump(), which it must equal byte for byte
// (Note [Dumping JSON in runs]). The input is dumped twice: parsed as a JSON document when it is
// one, and as the raw bytes of a string, which need not be valid UTF-8.
//
// What must hold: for both error modes and both layouts, the same text or the same exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "util/json_dump.h"

namespace {

template <class Json>
void check(const Json& value, int indent, tg::util::InvalidUtf8 invalid) {
  const auto handler = invalid == tg::util::InvalidUtf8::kReplace ? Json::error_handler_t::replace
                                                                  : Json::error_handler_t::strict;
  std::string expected;
  bool expected_throw = false;
  try {
    expected = value.dump(indent, ' ', false, handler);
  } catch (const nlohmann::json::exception&) {
    expected_throw = true;
  }
  try {
    if (tg::util::dump_json(value, indent, invalid) != expected || expected_throw) std::abort();
  } catch (const nlohmann::json::exception&) {
    if (!expected_throw) std::abort();
  }
}

template <class Json>
void check_all(const Json& value) {
  for (auto invalid : {tg::util::InvalidUtf8::kThrow, tg::util::InvalidUtf8::kReplace}) {
    check(value, -1, invalid);
    check(value, 2, invalid);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_all(nlohmann::ordered_json{{"text", input}, {input, {1, input}}});
  const auto parsed = nlohmann::ordered_json::parse(input, nullptr, false);
  if (!parsed.is_discarded()) {
    check_all(parsed);
    check_all(nlohmann::json(parsed));
  }
  return 0;
}
