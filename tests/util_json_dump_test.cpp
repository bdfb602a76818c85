// dump_json() writes what nlohmann's dump() writes, byte for byte, for every document:
// Note [Dumping JSON in runs].
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "util/json_dump.h"

namespace tg::util {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

template <class J>
std::string reference_dump(const J& value, int indent, InvalidUtf8 invalid) {
  return value.dump(
      indent, ' ', false,
      invalid == InvalidUtf8::kReplace ? J::error_handler_t::replace : J::error_handler_t::strict);
}

// Both give the same text, or both throw the same message.
template <class J>
void expect_same_dump(const J& value, int indent, InvalidUtf8 invalid) {
  std::string expected;
  std::string expected_error;
  try {
    expected = reference_dump(value, indent, invalid);
  } catch (const nlohmann::json::exception& e) {
    expected_error = e.what();
  }
  try {
    const std::string got = dump_json(value, indent, invalid);
    ASSERT_TRUE(expected_error.empty()) << "nlohmann threw " << expected_error;
    ASSERT_EQ(got, expected);
  } catch (const nlohmann::json::exception& e) {
    ASSERT_EQ(e.what(), expected_error);
  }
}

void expect_same_string_dump(const std::string& text) {
  expect_same_dump(Json(text), -1, InvalidUtf8::kThrow);
  expect_same_dump(OrderedJson{{text, text}}, 2, InvalidUtf8::kReplace);
}

TEST(JsonDump, EscapesWhatNlohmannEscapesAndNothingElse) {
  EXPECT_EQ(dump_json(Json("a\"b\\c\b\f\n\r\t\x01\x1f\x7f/é")),
            "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/é\"");
  for (int c = 0; c < 0x80; ++c) expect_same_string_dump(std::string(1, static_cast<char>(c)));
}

TEST(JsonDump, EveryTwoByteStringMatches) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      expect_same_string_dump({static_cast<char>(a), static_cast<char>(b)});
      if (HasFatalFailure()) return;
    }
  }
}

// The boundaries of table 3-7: overlong forms, surrogates, above U+10FFFF, cut sequences.
TEST(JsonDump, MultibyteBoundariesMatch) {
  const unsigned char interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                       0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  for (unsigned char lead = 0xC0; lead != 0; ++lead) {
    for (unsigned char second : interesting) {
      for (unsigned char third : {0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xFF}) {
        for (unsigned char fourth : {0x41, 0x80, 0xC0}) {
          const std::string text = {static_cast<char>(lead), static_cast<char>(second),
                                    static_cast<char>(third), static_cast<char>(fourth)};
          expect_same_string_dump(text);
          expect_same_string_dump(text.substr(0, 3));
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// Plain ASCII is skipped eight bytes at a time; a byte that needs a look is found wherever it
// sits in such a word.
TEST(JsonDump, ABytePlacedAnywhereInALongStringMatches) {
  const std::string specials[] = {
      std::string(1, '\0'), "\x1f", " ", "\"", "\\", "\x7f", "\x80", "é", "\xC3",
      "\xED\xA0\x80",       "😀"};
  for (const std::string& special : specials) {
    for (size_t at = 0; at <= 24; ++at) {
      std::string text(24, 'a');
      text.insert(at, special);
      expect_same_string_dump(text);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(JsonDump, InvalidUtf8ThrowsOrIsReplacedAsNlohmannDoes) {
  const Json bad = {{"ok", "fine"}, {"text", "ab\xC3(cd"}};
  EXPECT_THROW(dump_json(bad), nlohmann::json::type_error);
  EXPECT_EQ(dump_json(bad, -1, InvalidUtf8::kReplace),
            "{\"ok\":\"fine\",\"text\":\"ab\xEF\xBF\xBD(cd\"}");
}

TEST(JsonDump, PrettyPrintingMatchesNlohmann) {
  const OrderedJson document = {
      {"z", {{"b", {1, -2, 3.5, true, nullptr, Json::array(), Json::object()}}}},
      {"a", {{"nested", {{"deeper", {"x", {{"k", "v"}}}}}}}},
      {"empty", Json::object()},
      {"big", std::uint64_t{18446744073709551615u}},
      {"small", std::int64_t{-9223372036854775807 - 1}},
      {"floats", {0.1, 1e300, -0.0, 2.0, 1e-7}},
  };
  for (int indent : {-1, 0, 1, 2, 4}) {
    expect_same_dump(document, indent, InvalidUtf8::kThrow);
    expect_same_dump(Json(document), indent, InvalidUtf8::kThrow);  // sorted keys
  }
  EXPECT_EQ(dump_json(OrderedJson{{"a", {1, 2}}}, 2), "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
}

// Random documents, strings biased towards the bytes that need care.
class RandomDocuments {
 public:
  explicit RandomDocuments(unsigned seed) : random_(seed) {}

  OrderedJson document(int depth) {
    switch (pick(depth > 3 ? 5 : 7)) {
      case 0:
        return text();
      case 1:
        return static_cast<std::int64_t>(random_()) - (1LL << 31);
      case 2:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(random_);
      case 3:
        return pick(2) == 0;
      case 4:
        return nullptr;
      case 5: {
        OrderedJson array = OrderedJson::array();
        for (int i = pick(4); i > 0; --i) array.push_back(document(depth + 1));
        return array;
      }
      default: {
        OrderedJson object = OrderedJson::object();
        for (int i = pick(4); i > 0; --i) object[text()] = document(depth + 1);
        return object;
      }
    }
  }

 private:
  std::string text() {
    static const std::string pieces[] = {"plain words ",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\t",
                                         "\x01",
                                         "\x7f",
                                         "é",
                                         "€",
                                         "😀",
                                         "\xC3",
                                         "\xE2\x82",
                                         "\xED\xA0\x80",
                                         "\xF4\x90\x80\x80",
                                         "\xC0\xAF",
                                         "\xFF"};
    std::string out;
    for (int i = pick(6); i > 0; --i) out += pieces[pick(pick(3) == 0 ? 16 : 10)];
    return out;
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(random_); }

  std::mt19937 random_;
};

TEST(JsonDump, RandomDocumentsMatch) {
  RandomDocuments documents(20261206);
  for (int i = 0; i < 3000; ++i) {
    const OrderedJson document = documents.document(0);
    for (InvalidUtf8 invalid : {InvalidUtf8::kThrow, InvalidUtf8::kReplace}) {
      expect_same_dump(document, -1, invalid);
      expect_same_dump(document, 2, invalid);
      expect_same_dump(Json(document), -1, invalid);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace tg::util
