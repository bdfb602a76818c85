// libFuzzer target: the JSONL or CSV dataset reader (TEXTGRAD_FUZZ_FORMAT) on arbitrary file
// contents, read through the public loader from a scratch file.
//
// What must hold: the loader returns examples or throws tg::Error (anything else escapes and is
// reported as a crash), and every example has an id.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>  // mkdtemp
#include <filesystem>
#include <string>

#include "textgrad/data.h"
#include "textgrad/errors.h"

namespace {

// One scratch file per process, removed at exit.
class ScratchFile {
 public:
  ScratchFile() {
    char dir[] = "/tmp/textgrad-fuzz-XXXXXX";
    if (!mkdtemp(dir)) std::abort();
    dir_ = dir;
    path_ = dir_ + "/data." TEXTGRAD_FUZZ_FORMAT;
  }
  ~ScratchFile() { std::filesystem::remove_all(dir_); }

  const std::string& write(const uint8_t* data, size_t size) {
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    if (!file || std::fwrite(data, 1, size, file) != size || std::fclose(file) != 0) {
      std::abort();
    }
    return path_;
  }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ScratchFile scratch;
  const std::string& path = scratch.write(data, size);
  try {
    for (const tg::Example& example : tg::load_examples(path)) {
      if (example.id.empty()) std::abort();
    }
  } catch (const tg::Error&) {
  }
  return 0;
}
