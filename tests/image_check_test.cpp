// Image completeness and size checks (src/util/image.h).
#include <gtest/gtest.h>

#include "support/process.h"
#include "test_paths.h"
#include "util/image.h"

namespace tg::util {
namespace {

std::string fixture(const std::string& name) {
  return testing::read_text(std::string(TEXTGRAD_TEST_DIR) + "/data/" + name);
}

TEST(ImageCheckTest, EveryCutOfARealImageIsCaughtAndTheWholeFilePasses) {
  for (const std::string name : {"bee.png", "bee.jpg", "bee.gif", "bee.webp"}) {
    const std::string bytes = fixture(name);
    const std::optional<std::string> type = detect_image_type(bytes);
    ASSERT_TRUE(type) << name;
    EXPECT_EQ(truncation_problem(bytes, *type), std::nullopt) << name;
    // Every prefix long enough to be recognized as this type is incomplete.
    for (size_t size = 12; size < bytes.size(); ++size) {
      std::optional<std::string> problem = truncation_problem(bytes.substr(0, size), *type);
      ASSERT_TRUE(problem) << name << " cut to " << size << " bytes";
      EXPECT_NE(problem->find("truncated"), std::string::npos) << *problem;
    }
  }
}

TEST(ImageCheckTest, DataAfterTheEndOfAJpegOrPngIsAllowed) {
  // Cameras append trailers after a JPEG's end marker; some tools pad PNG files.
  for (const std::string name : {"bee.jpg", "bee.png"}) {
    const std::string bytes = fixture(name) + std::string(100, '\0') + "trailer";
    EXPECT_EQ(truncation_problem(bytes, *detect_image_type(bytes)), std::nullopt) << name;
  }
}

TEST(ImageCheckTest, AnEndMarkerInsideAnEarlierSegmentDoesNotHideATruncation) {
  // An APP1 segment holding an embedded thumbnail that ends with its own EOI (FF D9).
  const std::string jpeg = fixture("bee.jpg");
  const std::string thumbnail = "\xff\xd8\xff\xd9";
  const std::string app1 =
      std::string("\xff\xe1\x00", 3) + static_cast<char>(2 + thumbnail.size()) + thumbnail;
  const std::string with_thumbnail = jpeg.substr(0, 2) + app1 + jpeg.substr(2);
  EXPECT_EQ(truncation_problem(with_thumbnail, "image/jpeg"), std::nullopt);
  EXPECT_TRUE(
      truncation_problem(with_thumbnail.substr(0, with_thumbnail.size() - 10), "image/jpeg"));
}

TEST(ImageCheckTest, ProviderLimitsAreEnforcedAndNamed) {
  EXPECT_EQ(image_size_problem(20'000'000, "openai"), std::nullopt);
  std::optional<std::string> openai = image_size_problem(20'000'001, "openai");
  ASSERT_TRUE(openai);
  EXPECT_NE(openai->find("openai accepts images of at most 20.0 MB"), std::string::npos) << *openai;
  EXPECT_TRUE(image_size_problem(4'000'000, "anthropic"));  // 5 MiB base64-encoded
  EXPECT_EQ(image_size_problem(3'900'000, "anthropic"), std::nullopt);
  EXPECT_TRUE(image_size_problem(16'000'000, "gemini"));  // 20 MB for the encoded request
  EXPECT_EQ(image_size_problem(500'000'000, "ollama"), std::nullopt);  // the server decides
}

}  // namespace
}  // namespace tg::util
