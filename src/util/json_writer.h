// Writing a JSON document front to back, without building it first: Note [Writing requests
// directly].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tg::util {

// Writes JSON text: exactly the bytes nlohmann's dump(indent) writes for the same document
// built as an ordered_json, members in the order they are written; compact unless given an
// indent. The caller keeps the document well formed (a key before each member value,
// containers closed in order); the writer only places the commas, line breaks and spaces.
// Not thread-safe; one document per writer.
class JsonWriter {
 public:
  // `indent` spaces a level, as dump(indent); compact when negative.
  explicit JsonWriter(int indent = -1) : indent_(indent) {}

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
  // A value that is already JSON text, e.g. a dump_json() of a parsed document, written with
  // the same indent (or compact). Indented, every line break in it is followed by the
  // current level's indentation: the bytes of the value dumped in place.
  JsonWriter& raw(std::string_view json);

  std::string take() { return std::move(out_); }

 private:
  void before_value();
  JsonWriter& open(char bracket);
  JsonWriter& close(char bracket);
  void new_line();

  const int indent_;
  std::string out_;
  bool after_value_ = false;  // the next key or element needs a comma
  bool after_key_ = false;    // the next value is a member's, on its key's line
  // Per open container: whether it holds an element yet (an empty one closes on its line).
  std::vector<bool> filled_;
};

}  // namespace tg::util
