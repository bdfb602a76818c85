// libFuzzer target: parse_json() against nlohmann::json::parse(), whose document it must build
// kind for kind (Note [Parsing JSON with simdjson]).
//
// What must hold: for any input, documents with the same text and the same kind at every node,
// or the same exception text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../tests/support/json_parse_reference.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (!tg::util::testing::parse_difference(text).empty()) std::abort();
  return 0;
}
