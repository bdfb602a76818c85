// Metrics follow the reference's Python parsing, quirks included; expected values were
// produced by running the reference's parse function and regex under CPython 3.11.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "textgrad/data.h"
#include "textgrad/errors.h"

namespace {

TEST(DataMetrics, ParseIntegerAnswerMatchesReference) {
  EXPECT_EQ(tg::parse_integer_answer("Answer: 42"), 42);
  EXPECT_EQ(tg::parse_integer_answer("  -5 "), 5);  // the sign is lost
  EXPECT_EQ(tg::parse_integer_answer("3.7"), 3);
  EXPECT_EQ(tg::parse_integer_answer("1,000"), 1000);
  EXPECT_EQ(tg::parse_integer_answer("x=12"), 12);
  EXPECT_EQ(tg::parse_integer_answer("007"), 7);
  EXPECT_EQ(tg::parse_integer_answer("Answer: 12.\n"), 12);
  EXPECT_EQ(tg::parse_integer_answer("12 apples and 3 pears"), 3);  // last token with a digit
  EXPECT_EQ(tg::parse_integer_answer("Answer: $1,234.56"), 1234);
  EXPECT_EQ(tg::parse_integer_answer("The answer is 12\u00a0apples"), 12);  // NBSP splits
  EXPECT_EQ(tg::parse_integer_answer("a\x1c"
                                     "7"),
            7);                                                     // Python splits on \x1c too
  EXPECT_EQ(tg::parse_integer_answer("Answer: \u0663\u0664"), 34);  // Arabic-Indic digits
  EXPECT_EQ(tg::parse_integer_answer("step 1: Answer:\u3000\uff19"), 9);  // full-width
}

TEST(DataMetrics, ParseIntegerAnswerFailures) {
  EXPECT_EQ(tg::parse_integer_answer("no digits here"), std::nullopt);
  EXPECT_EQ(tg::parse_integer_answer(""), std::nullopt);
  EXPECT_EQ(tg::parse_integer_answer(".5"), std::nullopt);
  EXPECT_EQ(tg::parse_integer_answer("Answer: 25 m\u00b2"), std::nullopt);       // int('²') fails
  EXPECT_EQ(tg::parse_integer_answer("99999999999999999999999"), std::nullopt);  // overflow
  EXPECT_EQ(tg::parse_integer_answer("\xff\xfe 8"), 8);  // invalid UTF-8 does not throw
}

TEST(DataMetrics, StringMetric) {
  EXPECT_EQ(tg::string_metric("Reasoning...\nAnswer: 8", "8"), 1);
  EXPECT_EQ(tg::string_metric("Answer: 9", "8"), 0);
  EXPECT_EQ(tg::string_metric("Answer: -5", "5"), 1);          // quirk: sign lost
  EXPECT_EQ(tg::string_metric("I cannot tell", "0"), 1);       // quirk: failure counts as 0
  EXPECT_EQ(tg::string_metric("Answer: 25 m\u00b2", "0"), 1);  // same quirk
  EXPECT_EQ(tg::string_metric("Answer: 1,000", "1000"), 1);
  // Beyond long long, numbers still compare exactly, like Python ints.
  EXPECT_EQ(tg::string_metric("99999999999999999999999", "99999999999999999999999"), 1);
  EXPECT_EQ(tg::string_metric("99999999999999999999999", "99999999999999999999998"), 0);
}

TEST(DataMetrics, ExactMatchTrims) {
  EXPECT_EQ(tg::exact_match("  apple banana\n", "apple banana"), 1);
  EXPECT_EQ(tg::exact_match("apple  banana", "apple banana"), 0);
  EXPECT_EQ(tg::exact_match("Apple", "apple"), 0);
  EXPECT_EQ(tg::exact_match("", " \t"), 1);
}

TEST(DataMetrics, ChoiceLetterFirstMatch) {
  EXPECT_EQ(tg::extract_choice_letter("Answer: B"), 'B');
  EXPECT_EQ(tg::extract_choice_letter("answer : c then Answer: D"), 'c');  // first, case kept
  EXPECT_EQ(tg::extract_choice_letter("ANSWER:\n a"), 'a');
  EXPECT_EQ(tg::extract_choice_letter("Answer: E, Answer: A"), 'A');
  EXPECT_EQ(tg::extract_choice_letter("Answer:\u00a0C"), 'C');
  EXPECT_EQ(tg::extract_choice_letter("no letter"), std::nullopt);
  EXPECT_EQ(tg::extract_choice_letter("Answer"), std::nullopt);
  EXPECT_EQ(tg::extract_choice_letter("Answer:"), std::nullopt);

  EXPECT_EQ(tg::multiple_choice_metric("Thinking...\nAnswer: C", 'C'), 1);
  EXPECT_EQ(tg::multiple_choice_metric("Answer: c", 'C'), 0);  // quirk: exact compare
  EXPECT_EQ(tg::multiple_choice_metric("nothing", 'C'), 0);
}

TEST(DataMetrics, MajorityVoteTiesGoToEarliest) {
  using Votes = std::vector<std::optional<std::string>>;
  EXPECT_EQ(tg::majority_vote(Votes{"B", std::nullopt, "A", std::nullopt, "B"}), "B");
  EXPECT_EQ(tg::majority_vote(Votes{"A", "B", "B", "A"}), "A");
  EXPECT_EQ(tg::majority_vote(Votes{"C", "D", "D"}), "D");
  EXPECT_EQ(tg::majority_vote(Votes{std::nullopt, "A", std::nullopt}), std::nullopt);
  EXPECT_EQ(tg::majority_vote(Votes{std::nullopt, "A"}), std::nullopt);
  EXPECT_THROW(tg::majority_vote(Votes{}), tg::InvalidArgument);
}

TEST(DataMetrics, WilsonInterval) {
  const tg::ConfidenceInterval ci = tg::wilson_interval(80, 100);
  EXPECT_NEAR(ci.low, 0.7111708344068411, 1e-12);
  EXPECT_NEAR(ci.high, 0.8666330666689676, 1e-12);
  const tg::ConfidenceInterval none = tg::wilson_interval(0, 10);
  EXPECT_DOUBLE_EQ(none.low, 0.0);
  EXPECT_NEAR(none.high, 0.2775327998628892, 1e-12);
  const tg::ConfidenceInterval all = tg::wilson_interval(10, 10);
  EXPECT_NEAR(all.low, 0.7224672001371107, 1e-12);
  EXPECT_LE(all.high, 1.0);
  const tg::ConfidenceInterval empty = tg::wilson_interval(0, 0);
  EXPECT_EQ(empty.low, 0.0);
  EXPECT_EQ(empty.high, 1.0);
  EXPECT_THROW(tg::wilson_interval(3, 2), tg::InvalidArgument);
}

TEST(DataMetrics, Accuracy) {
  EXPECT_DOUBLE_EQ(tg::accuracy({1, 0, 1, 1}), 0.75);
  EXPECT_DOUBLE_EQ(tg::accuracy({}), 0.0);
}

}  // namespace
