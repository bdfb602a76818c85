// The built-in tasks with the reference's exact splits.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/io.h"
#include "data/text.h"
#include "textgrad/data.h"
#include "textgrad/errors.h"
#include "util/json_parse.h"

namespace tg {

namespace {

using nlohmann::json;

constexpr std::string_view kBuiltinHint =
    "Pass the data directory (--data-dir) or set TEXTGRAD_DATA_DIR to the folder holding bbh/ and "
    "gsm8k/; the project ships them in data/.";

// BBH sizes used by the reference: 250 examples, split 50 / 100 / 100 in file order.
constexpr std::size_t kBbhTrainEnd = 50;
constexpr std::size_t kBbhValEnd = 150;
constexpr std::size_t kBbhTestEnd = 250;

// DSPy's GSM8k split sizes.
constexpr std::size_t kGsmTrainSize = 200;
constexpr std::size_t kGsmValEnd = 500;

std::string join_path(const std::string& dir, std::string_view relative) {
  return (std::filesystem::path(dir) / relative).string();
}

std::string bbh_text_field(const json& example, const char* name, const std::string& where) {
  const auto it = example.find(name);
  if (it == example.end() || !it->is_string()) {
    throw ParseError(fmt::format("{}: missing or non-string \"{}\". {}", where, name,
                                 "Restore the file from the project's data/bbh/ folder."));
  }
  return it->get<std::string>();
}

// Reads bbh/<task>.json, keeping file order; ids are "bbh/<task>.json#<row>".
std::vector<Example> read_bbh(const std::string& dir, const std::string& task) {
  const std::string relative = "bbh/" + task + ".json";
  const std::string path = join_path(dir, relative);
  json document;
  try {
    document = util::parse_json(data::read_text_file(path, kBuiltinHint));
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e999
    throw ParseError(
        fmt::format("{}: not valid JSON ({}). Restore the file from the project's "
                    "data/bbh/ folder.",
                    path, e.what()));
  }
  const auto list = document.find("examples");
  if (!document.is_object() || list == document.end() || !list->is_array()) {
    throw ParseError(
        fmt::format("{}: expected an object with an \"examples\" array, as in "
                    "BIG-Bench-Hard. Restore the file from the project's data/bbh/.",
                    path));
  }
  std::vector<Example> examples;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    const std::string where = fmt::format("{}: examples[{}]", path, i);
    if (!item.is_object()) throw ParseError(where + ": expected an object with input and target.");
    examples.push_back(Example{fmt::format("{}#{}", relative, i),
                               bbh_text_field(item, "input", where),
                               bbh_text_field(item, "target", where), std::nullopt});
  }
  return examples;
}

std::vector<Example> slice(const std::vector<Example>& items, std::size_t begin, std::size_t end) {
  return {items.begin() + static_cast<std::ptrdiff_t>(begin),
          items.begin() + static_cast<std::ptrdiff_t>(end)};
}

Splits load_bbh(const std::string& data_dir, const std::string& task) {
  const std::vector<Example> all = read_bbh(find_data_dir(data_dir), task);
  if (all.size() < kBbhTestEnd) {
    throw ParseError(fmt::format(
        "bbh/{}.json has {} examples but the reference split needs {}. Restore the file from the "
        "project's data/bbh/ folder.",
        task, all.size(), kBbhTestEnd));
  }
  return {slice(all, 0, kBbhTrainEnd), slice(all, kBbhTrainEnd, kBbhValEnd),
          slice(all, kBbhValEnd, kBbhTestEnd)};
}

// Reads a GSM8k JSONL file in official order, then shuffles it as DSPy does.
std::vector<Example> read_gsm8k_shuffled(const std::string& dir, std::string_view file) {
  const std::string relative = fmt::format("gsm8k/{}", file);
  const std::string path = join_path(dir, relative);
  FieldNames fields;
  fields.input = {"question"};
  fields.target = {"answer"};
  fields.image = {};
  fields.id = {};
  std::vector<Example> examples;
  for (auto& record : data::read_jsonl_records(path, fields, kBuiltinHint)) {
    Example example;
    example.id = fmt::format("{}#{}", relative, record.index);
    example.input = "Question: " + record.input;
    try {
      example.target = parse_gsm8k_gold(record.target);
    } catch (const ParseError& e) {
      throw ParseError(fmt::format("{}:{}: {} Restore the file from the project's data/gsm8k/.",
                                   path, record.line, e.what()));
    }
    examples.push_back(std::move(example));
  }
  PythonRandom(0).shuffle(examples);  // a fresh random.Random(0) per file, as in DSPy
  return examples;
}

// Python's str(int(token)) for a token of ASCII digits with an optional sign.
std::optional<std::string> python_int_text(std::string_view token) {
  bool negative = false;
  if (!token.empty() && (token[0] == '-' || token[0] == '+')) {
    negative = token[0] == '-';
    token.remove_prefix(1);
  }
  if (token.empty()) return std::nullopt;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const std::size_t first = token.find_first_not_of('0');
  if (first == std::string_view::npos) return "0";  // also turns "-0" into "0"
  return (negative ? "-" : "") + std::string(token.substr(first));
}

}  // namespace

std::string parse_gsm8k_gold(std::string_view answer) {
  const std::vector<std::string_view> tokens = data::python_split(answer);
  if (tokens.size() < 2 || tokens[tokens.size() - 2] != "####") {
    throw ParseError("the answer does not end with \"#### <number>\".");
  }
  std::string number;
  for (char c : tokens.back()) {
    if (c != ',') number.push_back(c);
  }
  auto text = python_int_text(number);
  if (!text) {
    throw ParseError(fmt::format("the final answer \"{}\" is not an integer.", tokens.back()));
  }
  return *text;
}

std::vector<std::string> builtin_task_names() {
  return {"object_counting", "word_sorting", "gsm8k"};
}

Splits load_object_counting(const std::string& data_dir) {
  return load_bbh(data_dir, "object_counting");
}

Splits load_word_sorting(const std::string& data_dir) { return load_bbh(data_dir, "word_sorting"); }

Splits load_gsm8k(const std::string& data_dir) {
  const std::string dir = find_data_dir(data_dir);
  const std::vector<Example> train = read_gsm8k_shuffled(dir, "train.jsonl");
  if (train.size() < kGsmValEnd) {
    throw ParseError(fmt::format(
        "gsm8k/train.jsonl has {} examples but the DSPy split needs {}. Restore the file from the "
        "project's data/gsm8k/ folder.",
        train.size(), kGsmValEnd));
  }
  return {slice(train, 0, kGsmTrainSize), slice(train, kGsmTrainSize, kGsmValEnd),
          read_gsm8k_shuffled(dir, "test.jsonl")};
}

Splits load_builtin_task(const std::string& name, const std::string& data_dir) {
  if (name == "object_counting") return load_object_counting(data_dir);
  if (name == "word_sorting") return load_word_sorting(data_dir);
  if (name == "gsm8k") return load_gsm8k(data_dir);
  throw InvalidArgument(
      fmt::format("unknown task '{}'; the built-in tasks are object_counting, "
                  "word_sorting and gsm8k.",
                  name));
}

}  // namespace tg
