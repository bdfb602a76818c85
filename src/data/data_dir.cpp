// Finding the folder that holds the built-in datasets (bbh/, gsm8k/).
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "textgrad/data.h"
#include "textgrad/errors.h"

namespace tg {

namespace {

struct Candidate {
  std::string path;  // empty when the source is not set
  std::string source;
};

bool is_directory(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::is_directory(path, ec);
}

// The folder of the file this code was loaded from: libtextgrad.so, or the program (or Python
// extension) the static library is linked into.
std::filesystem::path own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_folder), &info) == 0 || !info.dli_fname) return {};
  std::error_code ec;
  std::filesystem::path file = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? std::filesystem::path() : file.parent_path();
}

// Note [Relocatable data]
// An install moved to another prefix (or unpacked from an archive) still finds its data: the
// install's lib/ and bin/ lie at fixed relative paths from share/textgrad, so the data is
// looked for relative to the file holding this code before the prefix fixed at build time.
// A Python package carries the data in a data/ folder next to its extension module.
void add_relocated_candidates(std::vector<Candidate>& candidates) {
  const std::filesystem::path folder = own_folder();
  if (folder.empty()) return;
  auto add = [&](const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::exists(path / "prices.json", ec)) {
      candidates.push_back({path.lexically_normal().string(), "next to " + folder.string()});
    }
  };
#ifdef TEXTGRAD_DATA_FROM_LIBDIR
  add(folder / TEXTGRAD_DATA_FROM_LIBDIR);
#endif
#ifdef TEXTGRAD_DATA_FROM_BINDIR
  add(folder / TEXTGRAD_DATA_FROM_BINDIR);
#endif
  add(folder / "data");
}

// Where to look when the caller gave no directory, in order of precedence.
std::vector<Candidate> default_candidates() {
  std::vector<Candidate> candidates;
  const char* env = std::getenv("TEXTGRAD_DATA_DIR");
  candidates.push_back({env ? env : "", "environment variable TEXTGRAD_DATA_DIR"});
  add_relocated_candidates(candidates);
#ifdef TEXTGRAD_DATA_DIR
  candidates.push_back({TEXTGRAD_DATA_DIR, "install location"});
#endif
#ifdef TEXTGRAD_SOURCE_DATA_DIR
  candidates.push_back({TEXTGRAD_SOURCE_DATA_DIR, "source tree"});
#endif
  return candidates;
}

}  // namespace

std::string find_data_dir(const std::string& explicit_dir) {
  constexpr std::string_view kWhat =
      "the folder holding bbh/ and gsm8k/ (the project ships it as data/)";
  if (!explicit_dir.empty()) {
    if (is_directory(explicit_dir)) return explicit_dir;
    throw Error(fmt::format("data directory '{}' does not exist or is not a folder. Pass {}.",
                            explicit_dir, kWhat));
  }
  const std::vector<Candidate> candidates = default_candidates();
  std::string looked;
  for (const Candidate& candidate : candidates) {
    if (is_directory(candidate.path)) return candidate.path;
    looked += fmt::format("\n  - {}: {}", candidate.source,
                          candidate.path.empty() ? "(not set)" : candidate.path + " (missing)");
  }
  throw Error(
      fmt::format("no data directory found. Looked at:{}\nSet TEXTGRAD_DATA_DIR or pass the data "
                  "directory: {}.",
                  looked, kWhat));
}

}  // namespace tg
