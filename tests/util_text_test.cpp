// The one implementation of each small text helper: trimming, case folding, UTF-8 cutting,
// whole-string integers, and the file reader every library loader uses.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "textgrad/errors.h"
#include "util/text.h"

namespace tg::util {
namespace {

TEST(UtilText, TrimAndCase) {
  EXPECT_EQ(trim_view(" \t\r\n x y \f\v"), "x y");
  EXPECT_EQ(trim_view("   "), "");
  EXPECT_EQ(trim_left("  a "), "a ");
  EXPECT_TRUE(is_blank(" \n\t"));
  EXPECT_EQ(lower("Content-TYPE"), "content-type");
  EXPECT_TRUE(equals_ci("Retry-After", "retry-after"));
  EXPECT_FALSE(equals_ci("Retry-After", "retry-afte"));
  EXPECT_TRUE(contains_ci("Prompt Is Too Long", "prompt is too long"));
}

TEST(UtilText, Utf8PrefixNeverSplitsASequence) {
  const std::string text =
      "ab\xC3\xA9"
      "cd";  // 'é' is two bytes at positions 2-3
  EXPECT_EQ(utf8_prefix(text, 3), "ab");
  EXPECT_EQ(utf8_prefix(text, 4), "ab\xC3\xA9");
  EXPECT_EQ(utf8_prefix(text, 100), text);
}

TEST(UtilText, ParseIntIsWholeString) {
  EXPECT_EQ(parse_int("429").value_or(-1), 429);
  EXPECT_FALSE(parse_int("42x").has_value());
  EXPECT_FALSE(parse_int("").has_value());
  EXPECT_FALSE(parse_int("99999999999999").has_value());
}

// A directory given where a file belongs must not read as empty text.
TEST(UtilText, ReadFileRefusesADirectoryAndNamesMissingFiles) {
  char pattern[] = "/tmp/textgrad-read-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  try {
    read_file(dir);
    ADD_FAILURE() << "a directory was read";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("is a directory"), std::string::npos) << error.what();
  }
  try {
    read_file(dir + "/missing.txt");
    ADD_FAILURE() << "a missing file was read";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("missing.txt"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("No such file"), std::string::npos) << error.what();
  }
  std::ofstream(dir + "/a.txt") << "text\n";
  EXPECT_EQ(read_file(dir + "/a.txt"), "text\n");
  std::filesystem::remove_all(dir);
}

// Against a plain scan, for each of the two characters at every position of texts longer and
// shorter than the sixteen bytes looked at together, and from every start.
TEST(UtilText, FindEitherFindsTheFirstOfTwoCharacters) {
  const auto plain = [](std::string_view text, size_t from, char a, char b) {
    for (size_t i = from; i < text.size(); ++i) {
      if (text[i] == a || text[i] == b) return i;
    }
    return text.size();
  };
  for (size_t size : {0, 1, 15, 16, 17, 40}) {
    std::string text(size, 'x');
    for (size_t from = 0; from <= size + 1; ++from) {
      EXPECT_EQ(find_either(text, from, '{', '}'), size);
    }
    for (size_t at = 0; at < size; ++at) {
      for (char c : {'{', '}'}) {
        std::string marked = text;
        marked[at] = c;
        if (at + 7 < size) marked[at + 7] = c == '{' ? '}' : '{';
        for (size_t from = 0; from <= size; ++from) {
          ASSERT_EQ(find_either(marked, from, '{', '}'), plain(marked, from, '{', '}'))
              << marked << " from " << from;
        }
      }
    }
  }
  EXPECT_EQ(find_either("ab\xFF{", 0, '{', '}'), 3u);  // high bytes are not matches
}

}  // namespace
}  // namespace tg::util
