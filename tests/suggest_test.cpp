// Did-you-mean suggestions and clipping of huge values (src/util/suggest.h, src/util/clip.h).
#include <gtest/gtest.h>

#include "util/clip.h"
#include "util/suggest.h"

namespace tg::util {
namespace {

TEST(SuggestTest, EditDistanceCountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(edit_distance("gpt4o", "gpt-4o"), 1u);
  EXPECT_EQ(edit_distance("opneai", "openai"), 1u);  // two neighbours swapped
  EXPECT_EQ(edit_distance("judge", "jugde"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("GPT-4o", "gpt-4o"), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

TEST(SuggestTest, ClosestNameSuggestsOnlyLikelyTypos) {
  const std::vector<std::string> tasks = {"object_counting", "word_sorting", "gsm8k"};
  EXPECT_EQ(closest_name("object_countin", tasks), "object_counting");
  EXPECT_EQ(closest_name("word-sorting", tasks), "word_sorting");
  EXPECT_EQ(closest_name("gsm8", tasks), "gsm8k");
  EXPECT_EQ(closest_name("translation", tasks), std::nullopt);  // nothing near
  EXPECT_EQ(closest_name("gsm8k", tasks), std::nullopt);        // not a typo
  EXPECT_EQ(closest_name("GSM8K", tasks), "gsm8k");             // case alone
  EXPECT_EQ(closest_name("x", {}), std::nullopt);
}

TEST(ClipTest, LongTextKeepsItsEndsAndSaysHowMuchWasCut) {
  EXPECT_EQ(clip("short", 10), "short");
  const std::string text = std::string(600, 'a') + std::string(10'000, 'm') + std::string(300, 'z');
  const std::string clipped = clip(text, 900);
  EXPECT_TRUE(clipped.starts_with(std::string(600, 'a')));
  EXPECT_TRUE(clipped.ends_with(std::string(300, 'z')));
  EXPECT_NE(clipped.find("[... 10000 bytes cut ...]"), std::string::npos) << clipped;
}

TEST(ClipTest, CutsFallBetweenUtf8Characters) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "\xc3\xa9";  // "é", two bytes each
  const std::string clipped = clip(text, 101);
  const size_t marker = clipped.find("[...");
  ASSERT_NE(marker, std::string::npos);
  EXPECT_EQ(marker % 2, 0u);  // whole characters before the marker
  EXPECT_EQ((clipped.size() - clipped.find("...]") - 4) % 2, 0u);  // and after it
}

}  // namespace
}  // namespace tg::util
