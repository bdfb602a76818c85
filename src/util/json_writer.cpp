#include "util/json_writer.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "util/json_dump.h"

namespace tg::util {

// Note [Writing requests directly]
// A request body used to be built as an ordered_json and then dumped. Building it cost more
// than writing it: each member copied its key and value, the object's vector of members grew
// (copying every key again, because they are const), and the whole tree was freed afterwards.
// For a short evaluation request that was 35 k instructions, a sixth of our work on the call.
// The codecs now write the body front to back. Strings go through the same escaping as
// dump_json() (Note [Dumping JSON in runs]) and floating-point numbers through nlohmann's own
// formatting, so the bytes are the ones the ordered_json gave (each codec's
// WritesTheBytesTheDocumentGave test compares the two).

void JsonWriter::before_value() {
  if (after_value_) out_ += ',';
  after_value_ = true;
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_ += '{';
  after_value_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  out_ += '}';
  after_value_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  out_ += '[';
  after_value_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  out_ += ']';
  after_value_ = true;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  string(name);
  out_ += ':';
  after_value_ = false;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
  before_value();
  const size_t start = out_.size();
  if (!append_json_string(out_, text)) {
    // Not UTF-8: nlohmann's own error (type_error 316), worded as a dump() of the whole
    // document words it.
    out_.resize(start);
    out_ += nlohmann::json(std::string(text)).dump();
  }
  return *this;
}

JsonWriter& JsonWriter::strings(const std::vector<std::string>& texts) {
  begin_array();
  for (const std::string& text : texts) string(text);
  return end_array();
}

JsonWriter& JsonWriter::number(double value) {
  before_value();
  out_ += nlohmann::json(value).dump();
  return *this;
}

JsonWriter& JsonWriter::number(std::int64_t value) {
  before_value();
  char digits[24];
  out_.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  before_value();
  out_ += json;
  return *this;
}

}  // namespace tg::util
