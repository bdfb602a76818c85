#include "util/json_parse.h"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/simdjson_parser.h"

namespace tg::util {

// Note [Parsing JSON with simdjson]
// nlohmann's lexer reads a character at a time and copies each one twice (into the token and
// into the text it keeps for error messages): about 90 instructions a byte. parse_json() lets
// simdjson (a maintained Debian package) check and index the text first, in a few instructions
// a byte, and builds the nlohmann document from what it found. The document is the one
// json::parse() builds, type for type: numbers keep nlohmann's kinds (unsigned for a
// non-negative integer, signed for a negative one, float otherwise, with the same double), and
// of a key given twice the last value stays. Where simdjson refuses the text (a syntax error, a
// byte-order mark, an integer beyond 64 bits, nesting deeper than 1024) nlohmann parses it as
// before, so errors keep nlohmann's wording. The one number simdjson cannot tell apart is an
// integer minus zero ("-0", which nlohmann keeps signed): a text holding one goes to nlohmann
// too. JsonParse.* and the json_parse fuzz target compare the two parsers' documents and
// errors. Answers of OpenAI-compatible servers skip the document altogether (Note [Lexing
// answers with simdjson] in src/engine/providers/openai_answer.cpp).

namespace {

using Json = nlohmann::json;

// Whether `text` holds "-0" not followed by a fraction or an exponent (it may be in a string:
// then nlohmann just parses that text).
bool may_hold_an_integer_minus_zero(std::string_view text) {
  for (std::size_t at = text.find("-0"); at != std::string_view::npos;
       at = text.find("-0", at + 1)) {
    if (at + 2 == text.size()) return true;
    const char next = text[at + 2];
    if (next != '.' && next != 'e' && next != 'E') return true;
  }
  return false;
}

Json convert(simdjson::dom::element value) {
  using Type = simdjson::dom::element_type;
  switch (value.type()) {
    case Type::OBJECT: {
      Json object = Json::object();
      const simdjson::dom::object members = value.get_object().value_unsafe();
      for (const simdjson::dom::key_value_pair member : members) {
        object[std::string(member.key)] = convert(member.value);  // the last of a key stays
      }
      return object;
    }
    case Type::ARRAY: {
      Json array = Json::array();
      const simdjson::dom::array elements = value.get_array().value_unsafe();
      array.get_ref<Json::array_t&>().reserve(elements.size());
      for (const simdjson::dom::element element : elements) array.push_back(convert(element));
      return array;
    }
    case Type::STRING:
      return Json(std::string(value.get_string().value_unsafe()));
    case Type::INT64: {
      const std::int64_t number = value.get_int64().value_unsafe();
      if (number >= 0) return Json(static_cast<std::uint64_t>(number));
      return Json(number);
    }
    case Type::UINT64:
      return Json(value.get_uint64().value_unsafe());
    case Type::DOUBLE:
      return Json(value.get_double().value_unsafe());
    case Type::BOOL:
      return Json(value.get_bool().value_unsafe());
    case Type::NULL_VALUE:
      return Json(nullptr);
  }
  return Json();
}

}  // namespace

std::optional<Json> parse_json_quickly(std::string_view text) {
  if (may_hold_an_integer_minus_zero(text)) return std::nullopt;
  SimdjsonParser parser;
  const std::optional<simdjson::dom::element> root = parser.parse(text);
  if (!root) return std::nullopt;
  return convert(*root);
}

Json parse_json(std::string_view text) {
  if (std::optional<Json> document = parse_json_quickly(text)) return std::move(*document);
  return Json::parse(text);
}

Json parse_json_or_discarded(std::string_view text) {
  if (std::optional<Json> document = parse_json_quickly(text)) return std::move(*document);
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

template <>
Json parse_json_as<Json>(std::string_view text) {
  return parse_json(text);
}

}  // namespace tg::util
