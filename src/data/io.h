// File reading shared by the dataset loaders. Kept free of nlohmann headers on purpose.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "textgrad/data.h"

namespace tg::data {

// The whole file, without a leading UTF-8 byte order mark. Throws tg::Error naming the file,
// the system's reason and `hint` (what the user should do).
std::string read_text_file(const std::string& path, std::string_view hint);

// One JSONL or CSV record with its fields picked by FieldNames.
struct Record {
  std::size_t line = 0;   // 1-based line where the record starts
  std::size_t index = 0;  // 0-based record number (blank lines and the CSV header not counted)
  std::string input;
  std::string target;
  std::optional<std::string> image;
  std::optional<std::string> id;
};

std::vector<Record> read_jsonl_records(const std::string& path, const FieldNames& fields,
                                       std::string_view open_hint);
std::vector<Record> read_csv_records(const std::string& path, const FieldNames& fields,
                                     std::string_view open_hint);

}  // namespace tg::data
