// The HTML report of a real run, rendered by headless Chromium: the screenshot must show the
// page (not a blank or error page) with the accuracy plot drawn in its colours. Chromium comes
// from Debian's `chromium` package (scripts/setup.sh installs it); without it the test is
// skipped and says why.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "test_paths.h"

namespace tg {
namespace {

namespace fs = std::filesystem;

struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // 3 bytes a pixel
};

std::uint32_t big_endian(const std::string& data, size_t at) {
  return (std::uint32_t(std::uint8_t(data[at])) << 24) |
         (std::uint32_t(std::uint8_t(data[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(data[at + 2])) << 8) |
         std::uint32_t(std::uint8_t(data[at + 3]));
}

int paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes).
Image decode_png(const std::string& png) {
  Image image;
  if (png.size() < 8 || png.compare(1, 3, "PNG") != 0) return image;
  std::string idat;
  int color_type = 0;
  for (size_t at = 8; at + 8 <= png.size();) {
    const std::uint32_t length = big_endian(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") {
      image.width = static_cast<int>(big_endian(png, at + 8));
      image.height = static_cast<int>(big_endian(png, at + 12));
      if (png[at + 16] != 8 || png[at + 20] != 0) return {};
      color_type = png[at + 17];
    } else if (type == "IDAT") {
      idat += png.substr(at + 8, length);
    }
    at += 12 + length;
  }
  const int channels = color_type == 6 ? 4 : color_type == 2 ? 3 : 0;
  if (channels == 0) return {};
  const size_t stride = static_cast<size_t>(image.width) * channels;
  std::vector<std::uint8_t> raw((stride + 1) * image.height);
  uLongf size = raw.size();
  if (uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
      Z_OK) {
    return {};
  }
  std::vector<std::uint8_t> previous(stride, 0), line(stride);
  for (int y = 0; y < image.height; ++y) {
    const std::uint8_t filter = raw[y * (stride + 1)];
    const std::uint8_t* in = &raw[y * (stride + 1) + 1];
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(channels) ? line[x - channels] : 0;
      const int b = previous[x];
      const int c = x >= size_t(channels) ? previous[x - channels] : 0;
      const int predictor = filter == 1   ? a
                            : filter == 2 ? b
                            : filter == 3 ? (a + b) / 2
                            : filter == 4 ? paeth(a, b, c)
                                          : 0;
      line[x] = static_cast<std::uint8_t>(in[x] + predictor);
    }
    for (int x = 0; x < image.width; ++x) {
      for (int k = 0; k < 3; ++k) image.rgb.push_back(line[x * channels + k]);
    }
    previous = line;
  }
  return image;
}

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/snap/bin"}) {
      const fs::path path = fs::path(dir) / name;
      if (fs::exists(path)) return path.string();
    }
  }
  return {};
}

TEST(ReportBrowserTest, ChromiumRendersTheReportOfARun) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "no chromium: install Debian's chromium (scripts/setup.sh)";
  fake::FakeLlmServer server(testing::MockModel(TEXTGRAD_TEST_DATA_DIR));
  testing::TempDir dir;
  const std::string run_dir = dir.file("run");
  testing::ProcessResult run = testing::run_process(
      {std::string(TEXTGRAD_BINARY_DIR) + "/tools/textgrad/textgrad", "optimize", "--task",
       "object_counting", "--engine", "openai/gpt-4o-mini", "--steps", "4", "--val-size", "10",
       "--test-size", "10", "--run-dir", run_dir, "--quiet"},
      {{"OPENAI_API_KEY", "fake-test-key-browser-0123456789"},
       {"OPENAI_BASE_URL", server.base_url() + "/v1"},
       {"TEXTGRAD_CACHE_DIR", dir.file("cache")},
       {"TEXTGRAD_DATA_DIR", TEXTGRAD_TEST_DATA_DIR}});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  const std::string shot = dir.file("shot.png");
  testing::ProcessResult browser = testing::run_process(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
       "--disable-background-networking", "--disable-component-update", "--disable-sync",
       "--user-data-dir=" + dir.file("profile"), "--screenshot=" + shot, "--window-size=1200,1800",
       "file://" + run_dir + "/report.html"},
      {{"HOME", dir.path()}});
  ASSERT_TRUE(fs::exists(shot)) << browser.err;
  const Image image = decode_png(testing::read_text(shot));
  ASSERT_EQ(image.width, 1200);
  ASSERT_EQ(image.height, 1800);

  size_t ink = 0;
  size_t plot_blue = 0;
  size_t plot_red = 0;
  std::set<std::uint32_t> colours;
  for (size_t i = 0; i + 2 < image.rgb.size(); i += 3) {
    const int r = image.rgb[i], g = image.rgb[i + 1], b = image.rgb[i + 2];
    if (r < 200 || g < 200 || b < 200) ++ink;
    if (std::abs(r - 0x1f) < 40 && std::abs(g - 0x77) < 40 && std::abs(b - 0xb4) < 40) ++plot_blue;
    if (std::abs(r - 0xd6) < 40 && std::abs(g - 0x27) < 40 && std::abs(b - 0x28) < 40) ++plot_red;
    colours.insert(std::uint32_t(r) << 16 | std::uint32_t(g) << 8 | std::uint32_t(b));
  }
  const size_t pixels = image.rgb.size() / 3;
  EXPECT_GT(ink, pixels / 100) << "the page is (nearly) blank";
  EXPECT_GT(colours.size(), 50u);
  EXPECT_GT(plot_blue, 100u) << "no validation curve";
  EXPECT_GT(plot_red, 100u) << "no test curve";
}

}  // namespace
}  // namespace tg
