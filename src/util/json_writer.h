// Writing a JSON document front to back, without building it first: Note [Writing requests
// directly].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tg::util {

// Writes compact JSON text: exactly the bytes nlohmann's dump() writes for the same document
// built as an ordered_json, members in the order they are written. The caller keeps the
// document well formed (a key before each member value, containers closed in order); the
// writer only places the commas. Not thread-safe; one document per writer.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // The name of the next member of the enclosing object.
  JsonWriter& key(std::string_view name);
  // Throws nlohmann's type_error 316 for text that is not valid UTF-8, as dump() does.
  JsonWriter& string(std::string_view text);
  // An array of strings.
  JsonWriter& strings(const std::vector<std::string>& texts);
  JsonWriter& number(double value);
  JsonWriter& number(std::int64_t value);
  JsonWriter& boolean(bool value);
  // A value that is already compact JSON text, e.g. a dump_json() of a parsed document.
  JsonWriter& raw(std::string_view json);

  std::string take() { return std::move(out_); }

 private:
  void before_value();

  std::string out_;
  bool after_value_ = false;  // the next key or element needs a comma
};

}  // namespace tg::util
