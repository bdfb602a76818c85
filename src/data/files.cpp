// User data files (JSONL, CSV) and the file reading the built-in loaders share.
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/io.h"
#include "textgrad/errors.h"
#include "util/json_parse.h"

namespace tg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace data {

std::string read_text_file(const std::string& path, std::string_view hint) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw Error(fmt::format("cannot read data file '{}': it is a directory. {}", path, hint));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(
        fmt::format("cannot open data file '{}': {}. {}", path, std::strerror(errno), hint));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("error while reading data file '{}'. {}", path, hint));
  std::string text = std::move(buffer).str();
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);  // editors on Windows add a BOM
  return text;
}

namespace {

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "\"" : ", \"") + name + "\"";
  return out;
}

// Relative image paths name files next to the data file, whatever the working directory.
std::optional<std::string> resolve_image(const std::string& data_path, std::string image) {
  if (image.empty()) return std::nullopt;
  const fs::path image_path(image);
  if (image_path.is_absolute()) return image;
  return (fs::path(data_path).parent_path() / image_path).lexically_normal().string();
}

// ----- JSONL

// The first of `names` present in the object, or nullptr.
const json* find_field(const json& object, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    const auto it = object.find(name);
    if (it != object.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

// Numbers are accepted as text ({"answer": 42}) because gold answers are often numeric.
std::string field_text(const json& value, const std::string& where, std::string_view role) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  throw ParseError(fmt::format("{}: the {} field must be a string or a number, not {}", where, role,
                               value.type_name()));
}

std::string required_field(const json& object, const std::vector<std::string>& names,
                           const std::string& where, std::string_view role) {
  const json* value = find_field(object, names);
  if (!value) {
    throw ParseError(fmt::format(
        "{}: no {} field (looked for {}). Rename the field or pass its name in FieldNames.", where,
        role, quoted_list(names)));
  }
  return field_text(*value, where, role);
}

Record jsonl_record(const std::string& line_text, const std::string& where,
                    const FieldNames& fields) {
  json object;
  try {
    object = util::parse_json(line_text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e999
    throw ParseError(fmt::format(
        "{}: not valid JSON ({}). Each line of a JSONL file must hold one complete JSON object.",
        where, e.what()));
  }
  if (!object.is_object()) {
    throw ParseError(
        fmt::format("{}: expected a JSON object, found {}.", where, object.type_name()));
  }
  Record record;
  record.input = required_field(object, fields.input, where, "input");
  record.target = required_field(object, fields.target, where, "target");
  if (const json* image = find_field(object, fields.image)) {
    record.image = field_text(*image, where, "image");
  }
  if (const json* id = find_field(object, fields.id)) {
    // An empty id falls back to "<file>#<record>", as in CSV files: every example needs one.
    if (std::string text = field_text(*id, where, "id"); !text.empty()) record.id = std::move(text);
  }
  return record;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

// ----- CSV (RFC 4180; LF line ends accepted too)

struct CsvRow {
  std::size_t line = 0;
  std::vector<std::string> fields;
};

class CsvParser {
 public:
  CsvParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  std::vector<CsvRow> rows() {
    std::vector<CsvRow> rows;
    while (pos_ < text_.size()) {
      if (at_line_end()) {  // skip blank lines, which hand-edited files often contain
        consume_line_end();
        continue;
      }
      rows.push_back(row());
    }
    return rows;
  }

 private:
  bool at_line_end() const {
    if (text_[pos_] == '\n') return true;
    return text_[pos_] == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n');
  }

  void consume_line_end() {
    if (text_[pos_] == '\r') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
    ++line_;
  }

  CsvRow row() {
    CsvRow row{line_, {}};
    while (true) {
      row.fields.push_back(pos_ < text_.size() && text_[pos_] == '"' ? quoted() : unquoted());
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size()) consume_line_end();
      return row;
    }
  }

  std::string quoted() {
    const std::size_t start_line = line_;
    std::string field;
    ++pos_;
    while (true) {
      if (pos_ >= text_.size()) {
        throw ParseError(fmt::format(
            "{}:{}: a quoted field is never closed. Add the closing '\"' (and write a quote inside "
            "a field as \"\").",
            path_, start_line));
      }
      const char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          field.push_back('"');
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\n') ++line_;
      field.push_back(c);
    }
    if (pos_ < text_.size() && text_[pos_] != ',' && !at_line_end()) {
      throw ParseError(
          fmt::format("{}:{}: unexpected text after a closing quote. Quote the whole field and "
                      "double any quote "
                      "inside it.",
                      path_, line_));
    }
    return field;
  }

  std::string unquoted() {
    std::string field;
    while (pos_ < text_.size() && text_[pos_] != ',' && !at_line_end()) {
      if (text_[pos_] == '"') {
        throw ParseError(fmt::format(
            "{}:{}: a '\"' inside an unquoted field. Enclose the field in double quotes and double "
            "the quotes inside it.",
            path_, line_));
      }
      field.push_back(text_[pos_++]);
    }
    return field;
  }

  std::string_view text_;
  const std::string& path_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

// Index of the first of `names` in the header, if any.
std::optional<std::size_t> find_column(const std::vector<std::string>& header,
                                       const std::vector<std::string>& names) {
  for (const auto& name : names) {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
  }
  return std::nullopt;
}

std::size_t required_column(const std::vector<std::string>& header,
                            const std::vector<std::string>& names, const std::string& path,
                            std::string_view role) {
  if (const auto column = find_column(header, names)) return *column;
  throw ParseError(fmt::format(
      "{}:1: no {} column (looked for {}; the header has {}). Rename the column or pass its name "
      "in FieldNames.",
      path, role, quoted_list(names), quoted_list(header)));
}

}  // namespace

std::vector<Record> read_jsonl_records(const std::string& path, const FieldNames& fields,
                                       std::string_view open_hint) {
  const std::string text = read_text_file(path, open_hint);
  std::vector<Record> records;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (is_blank(line)) continue;
    Record record =
        jsonl_record(std::string(line), fmt::format("{}:{}", path, line_number), fields);
    record.line = line_number;
    record.index = records.size();
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<Record> read_csv_records(const std::string& path, const FieldNames& fields,
                                     std::string_view open_hint) {
  const std::string text = read_text_file(path, open_hint);
  std::vector<CsvRow> rows = CsvParser(text, path).rows();
  if (rows.empty()) {
    throw ParseError(
        fmt::format("{}: the CSV file is empty; its first row must name the columns.", path));
  }
  const std::vector<std::string>& header = rows.front().fields;
  const std::size_t input = required_column(header, fields.input, path, "input");
  const std::size_t target = required_column(header, fields.target, path, "target");
  const auto image = find_column(header, fields.image);
  const auto id = find_column(header, fields.id);

  std::vector<Record> records;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    CsvRow& row = rows[r];
    if (row.fields.size() != header.size()) {
      throw ParseError(fmt::format(
          "{}:{}: {} fields but the header has {}. Quote fields that contain commas or line "
          "breaks.",
          path, row.line, row.fields.size(), header.size()));
    }
    Record record;
    record.line = row.line;
    record.index = records.size();
    record.input = std::move(row.fields[input]);
    record.target = std::move(row.fields[target]);
    if (image && !row.fields[*image].empty()) record.image = std::move(row.fields[*image]);
    if (id && !row.fields[*id].empty()) record.id = std::move(row.fields[*id]);
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace data

namespace {

constexpr std::string_view kUserFileHint = "Check the path and the file's permissions.";

std::vector<Example> to_examples(const std::string& path, std::vector<data::Record> records) {
  const std::string file_name = fs::path(path).filename().string();
  std::vector<Example> examples;
  examples.reserve(records.size());
  for (auto& record : records) {
    Example example;
    example.id = record.id ? *record.id : fmt::format("{}#{}", file_name, record.index);
    example.input = std::move(record.input);
    example.target = std::move(record.target);
    if (record.image) example.image_path = data::resolve_image(path, std::move(*record.image));
    examples.push_back(std::move(example));
  }
  return examples;
}

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

std::vector<Example> load_jsonl(const std::string& path, const FieldNames& fields) {
  return to_examples(path, data::read_jsonl_records(path, fields, kUserFileHint));
}

std::vector<Example> load_csv(const std::string& path, const FieldNames& fields) {
  return to_examples(path, data::read_csv_records(path, fields, kUserFileHint));
}

std::vector<Example> load_examples(const std::string& path, const FieldNames& fields) {
  const std::string ext = lower_extension(path);
  if (ext == ".jsonl") return load_jsonl(path, fields);
  if (ext == ".csv") return load_csv(path, fields);
  throw InvalidArgument(fmt::format(
      "cannot tell the format of data file '{}' from its extension; use a .jsonl or .csv file.",
      path));
}

}  // namespace tg
