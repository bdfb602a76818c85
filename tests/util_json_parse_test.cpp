// parse_json() builds the document nlohmann::json::parse() builds, kind for kind, or throws
// what it throws (Note [Parsing JSON with simdjson]).
#include "util/json_parse.h"

#include "support/json_parse_reference.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace tg::util {
namespace {

using Json = nlohmann::json;

std::vector<std::string> edge_texts() {
  return {"-0",
          "[-0]",
          R"({"a":-0,"b":0})",
          "-0.0",
          "-0e1",
          "0",
          "1e-400",
          "1E400",
          "-1E400",
          "-9223372036854775808",
          "9223372036854775807",
          "9223372036854775808",
          "18446744073709551615",
          "18446744073709551616",
          "-9223372036854775809",
          "1.0",
          "1e2",
          "0.1",
          "2.5e-3",
          "123456789012345678901234567890",
          R"("\ud800")",
          R"("\udc00")",
          R"("\ud800\u0041")",
          R"("\ud83d\ude00")",
          "\xEF\xBB\xBF{}",
          "[1,2]",
          R"({"a":1,"a":[2],"b":{"a":3,"a":null}})",
          " 7 ",
          R"("\u0000")",
          "\"\xFF\"",
          "\"\xC3\"",
          "\"\x01\"",
          R"("x-0")",
          "{} x",
          "",
          " ",
          "[",
          "nul",
          "true",
          "false",
          "null",
          R"({"a":})",
          R"([1,])",
          "[1 2]",
          R"({"a" 1})",
          "{/* no */}",
          "01",
          "1.",
          ".5",
          "+1",
          std::string(2000, '[') + std::string(2000, ']'),
          std::string(1000, '[') + std::string(1000, ']'),
          R"({"é":"ü","k":"\t\n\\\""})"};
}

TEST(JsonParse, EdgeTextsParseAsNlohmannParsesThem) {
  for (const std::string& text : edge_texts())
    EXPECT_EQ(testing::parse_difference(text), "") << text;
}

// Every prefix of a document of every kind, and each of its bytes replaced by a character that
// matters to JSON.
TEST(JsonParse, PrefixesAndMutationsParseAlike) {
  const std::string text =
      R"({"id":"msg_1","content":[{"type":"text","text":"Blue \u00e9 \n"}],"n":-12,)"
      R"("u":18446744073709551615,"f":-0.5,"e":1e300,"t":true,"z":null,"a":[[],{}]})";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ASSERT_EQ(testing::parse_difference(text.substr(0, cut)), "") << text.substr(0, cut);
  }
  for (size_t at = 0; at < text.size(); ++at) {
    for (char c : std::string("{}[]:,\"0-.en\\")) {
      std::string mutated = text;
      mutated[at] = c;
      ASSERT_EQ(testing::parse_difference(mutated), "") << mutated;
    }
  }
}

// Texts over a megabyte get a parser of their own (util::SimdjsonParser); later small ones go
// back to the thread's.
TEST(JsonParse, TextsOverAMegabyteParseAlike) {
  const std::string big =
      R"({"text":")" + std::string(1500000, 'x') + R"(","n":[1,-2,3.5],"t":true})";
  ASSERT_TRUE(parse_json_quickly(big).has_value());
  EXPECT_EQ(testing::parse_difference(big), "");
  EXPECT_EQ(parse_json(big)["text"].get_ref<const std::string&>().size(), 1500000u);
  EXPECT_EQ(testing::parse_difference(R"({"small":[1,2]})"), "");
  EXPECT_EQ(testing::parse_difference(big.substr(0, big.size() - 1)), "");  // cut: an error
}

// The variant that returns a discarded value instead of throwing, as json::parse(text,
// nullptr, false) does.
TEST(JsonParse, OrDiscardedReturnsWhatNlohmannReturns) {
  for (const std::string& text : edge_texts()) {
    const Json expected = Json::parse(text, nullptr, false);
    const Json document = parse_json_or_discarded(text);
    EXPECT_EQ(document.is_discarded(), expected.is_discarded()) << text;
    if (!expected.is_discarded()) {
      EXPECT_TRUE(testing::same_kinds(document, expected)) << text;
      EXPECT_EQ(document.dump(), expected.dump()) << text;
    }
  }
}

Json random_document(std::mt19937& random, int depth) {
  const int kind = static_cast<int>(random() % (depth > 3 ? 6 : 8));
  switch (kind) {
    case 0:
      return nullptr;
    case 1:
      return random() % 2 == 0;
    case 2:
      return static_cast<std::int64_t>(random()) - (1LL << 31);
    case 3:
      return static_cast<std::uint64_t>(random()) << (random() % 33);
    case 4:
      return std::ldexp(static_cast<double>(random()) - 2e9,
                        static_cast<int>(random() % 200) - 100);
    case 5: {
      std::string text;
      const int size = static_cast<int>(random() % 12);
      const std::vector<std::string> pieces = {"a", "b", "\"", "\\", "\n", "\x01",
                                               "é", "😀", "7",  "-",  "0",  " "};
      for (int i = 0; i < size; ++i) text += pieces[random() % pieces.size()];
      return text;
    }
    case 6: {
      Json array = Json::array();
      for (int i = static_cast<int>(random() % 5); i > 0; --i) {
        array.push_back(random_document(random, depth + 1));
      }
      return array;
    }
    default: {
      Json object = Json::object();
      for (int i = static_cast<int>(random() % 5); i > 0; --i) {
        object[std::string(1, "abcde"[random() % 5])] = random_document(random, depth + 1);
      }
      return object;
    }
  }
}

TEST(JsonParse, RandomDocumentsParseAlikeAndTakeTheFastPath) {
  std::mt19937 random(7);
  int fast = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string text = random_document(random, 0).dump(i % 3 == 0 ? 2 : -1);
    ASSERT_EQ(testing::parse_difference(text), "") << text;
    fast += parse_json_quickly(text).has_value() ? 1 : 0;
  }
  EXPECT_GT(fast, 2500);  // all but those with an integer minus zero or a string holding "-0"
}

}  // namespace
}  // namespace tg::util
