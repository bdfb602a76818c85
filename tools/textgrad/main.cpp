// The textgrad command-line tool.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "checks.h"
#include "commands.h"
#include "compare_cmd.h"
#include "textgrad/errors.h"
#include "textgrad/usage.h"
#include "version.h"
#include "worker_cmd.h"

namespace {

// Reads --config files written as JSON: {"optimize": {"task": "gsm8k", "engine": "..."}}.
class JsonConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return {}; }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    nlohmann::json doc = nlohmann::json::parse(input, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      throw CLI::ConversionError("the --config file is not a JSON object");
    }
    std::vector<CLI::ConfigItem> items;
    collect(doc, {}, items);
    return items;
  }

 private:
  static std::string scalar(const nlohmann::json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
    return value.dump();
  }

  static void collect(const nlohmann::json& object, const std::vector<std::string>& parents,
                      std::vector<CLI::ConfigItem>& items) {
    for (const auto& [key, value] : object.items()) {
      if (value.is_object()) {
        std::vector<std::string> nested = parents;
        nested.push_back(key);
        collect(value, nested, items);
        continue;
      }
      CLI::ConfigItem item;
      item.parents = parents;
      item.name = key;
      if (value.is_array()) {
        for (const auto& v : value) item.inputs.push_back(scalar(v));
      } else {
        item.inputs.push_back(scalar(value));
      }
      items.push_back(std::move(item));
    }
  }
};

std::string version_text() {
  const std::string describe = TEXTGRAD_GIT_DESCRIBE;
  return describe.empty() ? fmt::format("textgrad {}", TEXTGRAD_VERSION)
                          : fmt::format("textgrad {} ({})", TEXTGRAD_VERSION, describe);
}

bool config_is_json(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--config") return std::string(argv[i + 1]).ends_with(".json");
  }
  return false;
}

}  // namespace

#ifdef TEXTGRAD_WITH_JEMALLOC
// Note [Huge pages for the heap]
// A run's heap grows for as long as it runs (the steps it holds for its reports, the trace's
// index of texts, SQLite's page cache), and the first touch of each new 4 KiB page is a page
// fault: about 9 us each on the virtual machines we measured, over a page a call in training.
// Backing jemalloc's arenas with transparent huge pages makes that one fault per 2 MiB, and
// two arenas (instead of four a core) keep the extra resident memory to a few MiB; the
// program's few threads mostly allocate from their own caches anyway. Where the kernel does
// not offer huge pages, jemalloc ignores the setting. MALLOC_CONF, read after this, still
// overrides it. Measured in docs/performance.md ("Huge pages for the heap").
extern "C" const char* malloc_conf;
const char* malloc_conf = "thp:always,narenas:2";
#endif

int main(int argc, char** argv) {
  using namespace tg::cli;
  CLI::App app{
      "textgrad: optimize prompts, answers and code with LLM feedback (automatic "
      "differentiation via text)"};
  app.require_subcommand(1);
  app.set_config("--config", "",
                 "Read options from a TOML or JSON file ([optimize] / {\"optimize\": {...}})")
      ->check(input_file());
  app.set_version_flag("--version", version_text(), "Print the version and exit");
  if (config_is_json(argc, argv)) app.config_formatter(std::make_shared<JsonConfig>());

  OptimizeFlags optimize;
  EvalFlags eval;
  SolveFlags solve;
  CacheFlags cache;
  CodeFlags code;
  MergeFlags merge;
  ReportFlags report;
  CompareFlags compare;
  WorkerFlags worker;
  add_optimize(app, optimize);
  add_eval(app, eval);
  add_solve(app, solve);
  add_cache(app, cache);
  add_code(app, code);
  add_merge(app, merge);
  add_report(app, report);
  add_compare(app, compare);
  add_worker(app, worker);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  try {
    if (app.got_subcommand("optimize")) return run_optimize(optimize);
    if (app.got_subcommand("eval")) return run_eval(eval);
    if (app.got_subcommand("solve")) return run_solve(solve);
    if (app.got_subcommand("cache")) return run_cache(cache);
    if (app.got_subcommand("code")) return run_code(code);
    if (app.got_subcommand("merge")) return run_merge(merge);
    if (app.got_subcommand("report")) return run_report(report);
    if (app.got_subcommand("compare")) return run_compare(compare);
    if (app.got_subcommand("worker")) return run_worker(worker);
  } catch (const tg::BudgetExceeded& e) {
    std::cerr << "textgrad: " << e.what() << "\n";
    return kBudget;
  } catch (const tg::InvalidArgument& e) {
    std::cerr << "textgrad: " << e.what() << "\n";
    return kUsage;
  } catch (const tg::ParseError& e) {
    std::cerr << "textgrad: " << e.what() << "\n";
    return kUsage;
  } catch (const tg::BackwardError& e) {
    std::cerr << "textgrad: " << e.what() << "\n";
    return kFailure;
  } catch (const std::exception& e) {
    std::cerr << "textgrad: " << e.what() << "\n";
    return kFailure;
  }
  return kUsage;
}
