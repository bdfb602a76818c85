// libFuzzer target: dump_json() against nlohmann's dump(), which it must equal byte for byte
// (Note [Dumping JSON in runs]). The input is dumped twice: parsed as a JSON document when it is
// one, and as the raw bytes of a string, which need not be valid UTF-8. JsonWriter, walking the
// same documents front to back (every other array element handed over as dumped text, as step
// files hand over optimizer states), must write the same bytes too.
//
// What must hold: for both error modes and both layouts, the same text or the same exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "util/json_dump.h"
#include "util/json_writer.h"

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

void write(tg::util::JsonWriter& out, const nlohmann::ordered_json& value, int indent) {
  using Type = nlohmann::ordered_json::value_t;
  switch (value.type()) {
    case Type::object:
      out.begin_object();
      for (const auto& [name, member] : value.items()) {
        out.key(name);
        write(out, member, indent);
      }
      out.end_object();
      return;
    case Type::array:
      out.begin_array();
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (i % 2 == 1) {
          out.raw(tg::util::dump_json(value[i], indent));
        } else {
          write(out, value[i], indent);
        }
      }
      out.end_array();
      return;
    case Type::string:
      out.string(value.get_ref<const std::string&>());
      return;
    case Type::boolean:
      out.boolean(value.get<bool>());
      return;
    case Type::number_integer:
      out.number(value.get<std::int64_t>());
      return;
    case Type::number_float:
      out.number(value.get<double>());
      return;
    default:  // null, and unsigned integers (the writer has no unsigned number)
      out.raw(value.dump());
      return;
  }
}

void check_writer(const nlohmann::ordered_json& value, int indent) {
  std::string expected;
  bool expected_throw = false;
  try {
    expected = value.dump(indent);
  } catch (const nlohmann::json::exception&) {
    expected_throw = true;
  }
  try {
    tg::util::JsonWriter out(indent);
    write(out, value, indent);
    if (out.take() != expected || expected_throw) std::abort();
  } catch (const nlohmann::json::exception&) {
    if (!expected_throw) std::abort();
  }
}

template <class Json>
void check_all(const Json& value) {
  if constexpr (std::is_same_v<Json, nlohmann::ordered_json>) {
    for (const int indent : {-1, 0, 2}) check_writer(value, indent);
  }
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
