// Built-in task splits (checked against the data files and
// docs/reference-defects.md#dataset-splits), user JSONL/CSV files and data-directory resolution.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_paths.h"
#include "textgrad/data.h"
#include "textgrad/errors.h"

namespace {

namespace fs = std::filesystem;

const std::string kDataDir = TEXTGRAD_TEST_DATA_DIR;

// Asserts that `call` throws E and its message contains every piece of `parts`.
template <typename E, typename F>
void expect_error(F call, const std::vector<std::string>& parts) {
  try {
    call();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    const std::string message = e.what();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

void expect_item(const tg::Example& example, const std::string& id, const std::string& prefix,
                 const std::string& target) {
  EXPECT_EQ(example.id, id);
  EXPECT_TRUE(example.input.starts_with(prefix)) << example.input;
  EXPECT_EQ(example.target, target);
  EXPECT_FALSE(example.image_path.has_value());
}

std::size_t row_of(const tg::Example& example) {
  return std::stoul(example.id.substr(example.id.find('#') + 1));
}

TEST(DataBuiltin, ObjectCountingSplits) {
  const tg::Splits s = tg::load_object_counting(kDataDir);
  ASSERT_EQ(s.train.size(), 50U);
  ASSERT_EQ(s.val.size(), 100U);
  ASSERT_EQ(s.test.size(), 100U);
  const std::string file = "bbh/object_counting.json#";
  expect_item(s.train.front(), file + "0",
              "I have a flute, a piano, a trombone, four stoves, a violin, ", "8");
  expect_item(s.train.back(), file + "49",
              "I have a blackberry, a raspberry, a peach, a head of broccol", "10");
  expect_item(s.val.front(), file + "50",
              "I have two stalks of celery, two garlics, a potato, three he", "10");
  expect_item(s.val.back(), file + "149",
              "I have a car, a stove, two chairs, a microwave, a lamp, a to", "8");
  expect_item(s.test.front(), file + "150",
              "I have a couch, a bed, a car, a fridge, two tables, an oven,", "9");
  expect_item(s.test.back(), file + "249",
              "I have a head of broccoli, four garlics, a yam, a stalk of c", "16");
}

TEST(DataBuiltin, WordSortingSplits) {
  const tg::Splits s = tg::load_builtin_task("word_sorting", kDataDir);
  ASSERT_EQ(s.train.size(), 50U);
  ASSERT_EQ(s.val.size(), 100U);
  ASSERT_EQ(s.test.size(), 100U);
  const std::string file = "bbh/word_sorting.json#";
  const std::string ask = "Sort the following words alphabetically: List: ";
  expect_item(s.train.front(), file + "0", ask + "syndrome ther", "syndrome therefrom");
  expect_item(s.train.back(), file + "49", ask + "benchmark pil",
              "amphibious assist baseplate benchmark ell hatchet homecoming loess machine "
              "percentage pilot prorate redcoat reverie sank stallion thoughtful wehr wince");
  expect_item(s.val.front(), file + "50", ask + "hat core sonn", "core discreet hat sonnet");
  expect_item(s.val.back(), file + "149", ask + "choreograph r",
              "authenticate carbonic choreograph corvallis countersink equestrian have libya "
              "metal multifarious nitric obfuscatory petition pro retardant wigwam wishful");
  expect_item(s.test.front(), file + "150", ask + "oakland seabo",
              "allis anthology jacobi marmot membrane oakland seaborg toggle trapezoidal");
  expect_item(s.test.back(), file + "249", ask + "worcestershir",
              "bonito dreamboat fritter haggard nose whodunit worcestershire");
}

TEST(DataBuiltin, Gsm8kDspySplit) {
  const tg::Splits s = tg::load_gsm8k(kDataDir);
  ASSERT_EQ(s.train.size(), 200U);
  ASSERT_EQ(s.val.size(), 300U);
  ASSERT_EQ(s.test.size(), 1319U);

  const std::vector<std::size_t> train_rows{4530, 6017, 4120, 3208, 2585,
                                            3335, 6924, 3843, 4126, 5579};
  const std::vector<std::size_t> val_rows{1872, 1933, 400,  3371, 4689,
                                          3512, 4586, 3933, 6727, 6535};
  const std::vector<std::size_t> test_rows{1101, 120, 474, 991, 192, 1020, 350, 480, 883, 1062};
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(row_of(s.train[i]), train_rows[i]) << i;
    EXPECT_EQ(row_of(s.val[i]), val_rows[i]) << i;
    EXPECT_EQ(row_of(s.test[i]), test_rows[i]) << i;
  }

  expect_item(s.train.front(), "gsm8k/train.jsonl#4530",
              "Question: The result from the 40-item Statistics exam Marion", "24");
  expect_item(s.train.back(), "gsm8k/train.jsonl#841",
              "Question: Heloise has dogs and cats in the ratio of 10:17, w", "60");
  expect_item(s.val.front(), "gsm8k/train.jsonl#1872",
              "Question: 20 birds migrate on a seasonal basis from one lake", "2200");
  expect_item(s.val.back(), "gsm8k/train.jsonl#4316",
              "Question: Cloud 9 Diving Company has taken individual bookin", "26400");
  expect_item(s.test.front(), "gsm8k/test.jsonl#1101",
              "Question: Amber, Micah, and Ahito ran 52 miles in total. Amb", "16");
  expect_item(s.test.back(), "gsm8k/test.jsonl#788",
              "Question: John is raising money for a school trip. He has ap", "100");
  // Two of the five negative gold answers are in the official test set.
  EXPECT_EQ(s.test[1005].id, "gsm8k/test.jsonl#489");
  EXPECT_EQ(s.test[1005].target, "-10");
  EXPECT_EQ(s.test[854].target, "-3");
}

TEST(DataBuiltin, UnknownTaskAndNames) {
  EXPECT_EQ(tg::builtin_task_names(),
            (std::vector<std::string>{"object_counting", "word_sorting", "gsm8k"}));
  expect_error<tg::InvalidArgument>([] { tg::load_builtin_task("mmlu", kDataDir); },
                                    {"mmlu", "gsm8k"});
}

TEST(DataBuiltin, Gsm8kGoldParsing) {
  EXPECT_EQ(tg::parse_gsm8k_gold("Some reasoning <<4*6=24>>\n#### 24"), "24");
  EXPECT_EQ(tg::parse_gsm8k_gold("x\n#### 1,000\n"), "1000");
  EXPECT_EQ(tg::parse_gsm8k_gold("x #### -7"), "-7");
  EXPECT_EQ(tg::parse_gsm8k_gold("#### 007"), "7");
  EXPECT_EQ(tg::parse_gsm8k_gold("#### -0"), "0");
  EXPECT_THROW(tg::parse_gsm8k_gold("The answer is 5"), tg::ParseError);
  EXPECT_THROW(tg::parse_gsm8k_gold("####"), tg::ParseError);
  EXPECT_THROW(tg::parse_gsm8k_gold("#### 3.5"), tg::ParseError);
  EXPECT_THROW(tg::parse_gsm8k_gold("#### 5 dollars"), tg::ParseError);
}

// A scratch folder removed at the end of each test.
class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("textgrad_data_test_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }

  fs::path dir_;
};

TEST_F(DataFiles, JsonlWithDefaultAndFallbackFields) {
  const std::string path =
      write("items.jsonl",
            "{\"input\": \"2+2?\", \"target\": \"4\"}\n"
            "\n"
            "{\"question\": \"3+3?\", \"answer\": 6, \"image\": \"img/a.png\"}\r\n"
            "{\"input\": \"x\", \"target\": \"y\", \"id\": \"custom-7\"}");
  const std::vector<tg::Example> items = tg::load_examples(path);
  ASSERT_EQ(items.size(), 3U);
  EXPECT_EQ(items[0].id, "items.jsonl#0");
  EXPECT_EQ(items[0].input, "2+2?");
  EXPECT_EQ(items[0].target, "4");
  EXPECT_FALSE(items[0].image_path);
  EXPECT_EQ(items[1].id, "items.jsonl#1");
  EXPECT_EQ(items[1].input, "3+3?");
  EXPECT_EQ(items[1].target, "6");
  ASSERT_TRUE(items[1].image_path);
  EXPECT_EQ(*items[1].image_path, (dir_ / "img/a.png").string());
  EXPECT_EQ(items[2].id, "custom-7");
}

// Found by fuzz/data_file_fuzz.cpp: an empty id gave an example without one.
TEST_F(DataFiles, EmptyJsonlIdFallsBackLikeCsv) {
  const std::string path =
      write("ids.jsonl", "{\"input\": \"a\", \"target\": \"b\", \"id\": \"\"}\n");
  const std::vector<tg::Example> items = tg::load_examples(path);
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].id, "ids.jsonl#0");
}

// Found by fuzz/data_file_fuzz.cpp: nlohmann reports a number too large for a double as
// out_of_range, not parse_error, and it escaped the loader as a foreign exception.
TEST_F(DataFiles, NumberOverflowIsAParseErrorThatNamesTheLine) {
  const std::string jsonl =
      write("big.jsonl", "{\"input\": \"a\", \"target\": \"b\"}\n{\"input\": 1e999}\n");
  expect_error<tg::ParseError>([&] { tg::load_examples(jsonl); }, {jsonl + ":2", "1e999"});

  write("bbh/object_counting.json", "{\"examples\": [{\"input\": \"a\", \"target\": -1e400}]}");
  expect_error<tg::ParseError>([&] { tg::load_object_counting(dir_.string()); },
                               {"object_counting.json", "1e400", "data/bbh/"});
}

TEST_F(DataFiles, JsonlCustomFieldNames) {
  const std::string path =
      write("c.jsonl", "{\"prompt\": \"p\", \"label\": \"l\", \"input\": \"i\"}\n");
  tg::FieldNames fields;
  fields.input = {"prompt"};
  fields.target = {"label"};
  const auto items = tg::load_jsonl(path, fields);
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].input, "p");
  EXPECT_EQ(items[0].target, "l");
}

TEST_F(DataFiles, JsonlErrorsNameFileAndLine) {
  const std::string bad_json = write("bad.jsonl", "{\"input\": \"a\", \"target\": \"b\"}\n{oops\n");
  expect_error<tg::ParseError>([&] { tg::load_jsonl(bad_json); }, {bad_json + ":2", "JSON"});

  const std::string missing = write("missing.jsonl", "\n{\"input\": \"a\"}\n");
  expect_error<tg::ParseError>([&] { tg::load_jsonl(missing); },
                               {missing + ":2", "target", "\"answer\"", "FieldNames"});

  const std::string not_object = write("array.jsonl", "[1, 2]\n");
  expect_error<tg::ParseError>([&] { tg::load_jsonl(not_object); }, {not_object + ":1", "object"});

  const std::string wrong_type = write("type.jsonl", "{\"input\": [1], \"target\": \"b\"}\n");
  expect_error<tg::ParseError>([&] { tg::load_jsonl(wrong_type); }, {wrong_type + ":1", "input"});
}

TEST_F(DataFiles, CsvWithRfc4180Quoting) {
  const std::string path = write("items.csv",
                                 "\xEF\xBB\xBFquestion,answer,image\r\n"
                                 "\"Say \"\"hi\"\", then count: 1,2,3\",3,\r\n"
                                 "\r\n"
                                 "\"two\nlines\",\"\",/abs/pic.png\r\n"
                                 "plain,42,b.png");
  const std::vector<tg::Example> items = tg::load_examples(path);
  ASSERT_EQ(items.size(), 3U);
  EXPECT_EQ(items[0].input, "Say \"hi\", then count: 1,2,3");
  EXPECT_EQ(items[0].target, "3");
  EXPECT_FALSE(items[0].image_path);
  EXPECT_EQ(items[1].input, "two\nlines");
  EXPECT_EQ(items[1].target, "");
  EXPECT_EQ(items[1].image_path, "/abs/pic.png");
  EXPECT_EQ(items[2].id, "items.csv#2");
  EXPECT_EQ(items[2].image_path, (dir_ / "b.png").string());
}

TEST_F(DataFiles, CsvErrorsNameFileAndLine) {
  const std::string count = write("count.csv", "input,target\na,b\n\"x\ny\",z,extra\n");
  expect_error<tg::ParseError>([&] { tg::load_csv(count); }, {count + ":3", "3 fields", "2"});

  const std::string open_quote = write("open.csv", "input,target\na,b\n\"never closed,c\n");
  expect_error<tg::ParseError>([&] { tg::load_csv(open_quote); }, {open_quote + ":3", "closed"});

  const std::string stray = write("stray.csv", "input,target\nsa\"y,b\n");
  expect_error<tg::ParseError>([&] { tg::load_csv(stray); }, {stray + ":2", "quote"});

  const std::string after = write("after.csv", "input,target\n\"a\"b,c\n");
  expect_error<tg::ParseError>([&] { tg::load_csv(after); }, {after + ":2", "closing quote"});

  const std::string header = write("header.csv", "prompt,label\na,b\n");
  expect_error<tg::ParseError>([&] { tg::load_csv(header); },
                               {header + ":1", "input", "\"prompt\", \"label\""});

  const std::string empty = write("empty.csv", "");
  expect_error<tg::ParseError>([&] { tg::load_csv(empty); }, {empty, "empty"});
}

TEST_F(DataFiles, OpenErrorsAndUnknownExtension) {
  const std::string absent = (dir_ / "absent.jsonl").string();
  expect_error<tg::Error>([&] { tg::load_jsonl(absent); }, {absent, "No such file"});
  expect_error<tg::Error>([&] { tg::load_csv(dir_.string()); }, {dir_.string(), "directory"});
  const std::string txt = write("data.txt", "x");
  expect_error<tg::InvalidArgument>([&] { tg::load_examples(txt); }, {txt, ".jsonl", ".csv"});
}

TEST_F(DataFiles, BuiltinErrorsNameFileAndFix) {
  expect_error<tg::Error>([&] { tg::load_object_counting(dir_.string()); },
                          {"object_counting.json", "TEXTGRAD_DATA_DIR"});
  write("bbh/word_sorting.json", "{\"examples\": [{\"input\": \"a\"}]}");
  expect_error<tg::ParseError>([&] { tg::load_word_sorting(dir_.string()); },
                               {"word_sorting.json", "examples[0]", "target"});
  write("gsm8k/train.jsonl",
        "{\"question\": \"q\", \"answer\": \"r\\n#### 1\"}\n"
        "{\"question\": \"q\", \"answer\": \"no marker\"}\n");
  expect_error<tg::ParseError>([&] { tg::load_gsm8k(dir_.string()); },
                               {"gsm8k/train.jsonl:2", "####"});
}

TEST_F(DataFiles, FindDataDir) {
  EXPECT_EQ(tg::find_data_dir(dir_.string()), dir_.string());
  const std::string missing = (dir_ / "nope").string();
  expect_error<tg::Error>([&] { tg::find_data_dir(missing); }, {missing, "bbh/"});

  const char* saved = std::getenv("TEXTGRAD_DATA_DIR");
  const std::string saved_value = saved ? saved : "";
  ::setenv("TEXTGRAD_DATA_DIR", dir_.string().c_str(), 1);
  EXPECT_EQ(tg::find_data_dir(""), dir_.string());
  ::setenv("TEXTGRAD_DATA_DIR", missing.c_str(), 1);
  // Falls through to the build-time locations; the scratch build defines the source tree's.
  EXPECT_TRUE(fs::exists(fs::path(tg::find_data_dir("")) / "bbh/object_counting.json"));
  if (saved) {
    ::setenv("TEXTGRAD_DATA_DIR", saved_value.c_str(), 1);
  } else {
    ::unsetenv("TEXTGRAD_DATA_DIR");
  }
}

}  // namespace
