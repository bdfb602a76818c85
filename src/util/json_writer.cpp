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
  if (after_key_) {  // the member's value, on its key's line
    after_key_ = false;
    after_value_ = true;
    return;
  }
  if (after_value_) out_ += ',';
  after_value_ = true;
  if (filled_.empty()) return;
  filled_.back() = true;
  new_line();
}

void JsonWriter::new_line() {
  if (indent_ < 0) return;
  out_ += '\n';
  out_.append(filled_.size() * static_cast<size_t>(indent_), ' ');
}

JsonWriter& JsonWriter::open(char bracket) {
  before_value();
  out_ += bracket;
  filled_.push_back(false);
  after_value_ = false;
  return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
  const bool filled = filled_.back();
  filled_.pop_back();
  if (filled) new_line();
  out_ += bracket;
  after_value_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin_object() { return open('{'); }
JsonWriter& JsonWriter::end_object() { return close('}'); }
JsonWriter& JsonWriter::begin_array() { return open('['); }
JsonWriter& JsonWriter::end_array() { return close(']'); }

JsonWriter& JsonWriter::key(std::string_view name) {
  string(name);
  out_ += indent_ < 0 ? ":" : ": ";
  after_key_ = true;
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
  if (indent_ < 0 || filled_.empty()) {
    out_ += json;
    return *this;
  }
  // A dump's line breaks are all between tokens (strings escape theirs): each starts a line
  // of the value, which sits one level in for every container open around it.
  const std::string indentation(filled_.size() * static_cast<size_t>(indent_), ' ');
  for (size_t start = 0;;) {
    const size_t end = json.find('\n', start);
    out_.append(json.substr(start, end - start));
    if (end == std::string_view::npos) break;
    out_ += '\n';
    out_ += indentation;
    start = end + 1;
  }
  return *this;
}

}  // namespace tg::util
