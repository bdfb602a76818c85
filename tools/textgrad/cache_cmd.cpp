// `textgrad cache stats|clear`: look after the response cache.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "checks.h"
#include "commands.h"
#include "textgrad/cache.h"

namespace tg::cli {

void add_cache(CLI::App& app, CacheFlags& f) {
  CLI::App* cmd = app.add_subcommand("cache", "Show or clear the response cache");
  cmd->add_option("action", f.action, "stats or clear")
      ->required()
      ->check(CLI::IsMember({"stats", "clear"}));
  cmd->add_option("--cache", f.path,
                  "The cache file (default: ~/.cache/textgrad/responses.sqlite3)")
      ->check(not_a_folder());
  cmd->add_flag("--json", f.json, "Print as JSON");
}

int run_cache(const CacheFlags& f) {
  const std::string path = f.path.empty() ? default_cache_path() : f.path;
  if (f.action == "clear") {
    const size_t removed = cache_clear(path);
    if (f.json) {
      std::cout << nlohmann::json({{"path", path}, {"removed", removed}}).dump() << "\n";
    } else {
      std::cout << fmt::format("Removed {} cached answers from {}\n", removed, path);
    }
    return kOk;
  }
  CacheStats stats = cache_stats(path);
  if (f.json) {
    std::cout << nlohmann::json({{"path", path},
                                 {"entries", stats.entries},
                                 {"bytes", stats.bytes},
                                 {"entries_by_engine", stats.entries_by_engine}})
                     .dump(2)
              << "\n";
    return kOk;
  }
  std::cout << fmt::format("{}: {} answers, {:.1f} MB\n", path, stats.entries,
                           static_cast<double>(stats.bytes) / 1e6);
  for (const auto& [engine, count] : stats.entries_by_engine) {
    std::cout << fmt::format("  {}: {}\n", engine, count);
  }
  return kOk;
}

}  // namespace tg::cli
