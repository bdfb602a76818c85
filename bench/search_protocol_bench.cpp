// Workload (f)'s data with `--optimizer gepa`: the wall time of a search run through the CLI
// against its critical-path bound.
//
//   textgrad_search_protocol_bench [--delay-ms 200] [--runs 3] [--max-metric-calls 400]
//                                  [--concurrency 32]
//
// Runs `textgrad optimize --task object_counting --engine openai/mock-model --no-cache
// --optimizer gepa --max-metric-calls M --concurrency C --max-in-flight C` (50 train, 100
// validation, 100 test items) against the mock model answering after --delay-ms, and prints
// the median of --runs runs.
//
// Critical-path bound, in rounds of one answer's delay, of what the run did (read back from
// its proposals/ and events.jsonl): step 0 evaluates test and then validation, ceil(100 / C)
// rounds each; the search scores the seed on validation (ceil(V / C)); each proposal then runs
// its stages one after another: the parent's minibatch (ceil(m / C)), for a reflection the
// feedback (2 dependent rounds: the metric's verdict, then the prompt) and its update calls
// (one round each, a repair request included), the child's minibatch, the validation pass of
// an accepted child, a merge's 5-item subsample; at the end the best candidate is tested
// (ceil(100 / C)). Evaluations within a stage run at once, stages never overlap, so the bound
// is what an engine with no overhead would need for the same proposals.
//
// A measurement, not a test: the exit code is 0 whatever the numbers are.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"

#ifndef TEXTGRAD_CLI_PATH
#error "TEXTGRAD_CLI_PATH must name the textgrad executable"
#endif
#ifndef TEXTGRAD_DATA_DIR
#error "TEXTGRAD_DATA_DIR must name the data folder"
#endif

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kTest = 100;
constexpr int kVal = 100;
constexpr int kMinibatch = 3;

struct Settings {
  int delay_ms = 200;
  int runs = 3;
  int max_metric_calls = 400;
  int concurrency = 32;
};

bool parse(int argc, char** argv, Settings& s) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--delay-ms" && value >= 0) {
      s.delay_ms = value;
    } else if (flag == "--runs" && value >= 1) {
      s.runs = value;
    } else if (flag == "--max-metric-calls" && value >= kVal) {
      s.max_metric_calls = value;
    } else if (flag == "--concurrency" && value >= 1) {
      s.concurrency = value;
    } else {
      return false;
    }
  }
  return argc % 2 == 1;
}

int rounds(int items, int concurrency) { return (items + concurrency - 1) / concurrency; }

struct Run {
  double wall_s = 0;
  int bound_rounds = 0;
  std::size_t requests = 0;
  int proposals = 0;
  int accepted = 0;
  int reflections = 0;
};

// Update calls of the search (step 1), from the run's event log.
int update_calls(const fs::path& run_dir) {
  std::ifstream events(run_dir / "events.jsonl");
  int calls = 0;
  for (std::string line; std::getline(events, line);) {
    const json e = json::parse(line, nullptr, false);
    calls += e.is_object() && e.value("type", "") == "call" && e.value("phase", "") == "update";
  }
  return calls;
}

// See the header: the rounds of the stages the run went through, in order.
void add_bound(const fs::path& run_dir, int c, Run& run) {
  run.bound_rounds = 2 * rounds(kTest, c) + rounds(kVal, c) + rounds(kTest, c);
  for (const auto& file : fs::directory_iterator(run_dir / "proposals")) {
    std::ifstream in(file.path());
    const json p = json::parse(in);
    ++run.proposals;
    const std::string outcome = p["outcome"];
    const bool merge = p["kind"] == "merge";
    run.bound_rounds += rounds(static_cast<int>(p["parent_scores"].size()), c);
    if (!p["child_scores"].empty() && !merge) {
      run.bound_rounds += rounds(static_cast<int>(p["child_scores"].size()), c);
    }
    const bool reflected = !merge && (outcome == "unchanged" || outcome == "rejected" ||
                                      outcome == "accepted" || !p["feedback"].empty());
    if (reflected) {
      ++run.reflections;
      run.bound_rounds += 2;  // feedback: the metric's verdict, then the prompt
    }
    if (outcome == "accepted") {
      ++run.accepted;
      run.bound_rounds += rounds(kVal, c);
    }
  }
  run.bound_rounds += update_calls(run_dir);
}

Run run_once(const Settings& s, fs::path dir, tg::fake::FakeLlmServer& server, int index) {
  const fs::path run_dir = dir / fmt::format("run-{}", index);
  const std::vector<std::string> args = {TEXTGRAD_CLI_PATH,
                                         "optimize",
                                         "--task",
                                         "object_counting",
                                         "--engine",
                                         "openai/mock-model",
                                         "--no-cache",
                                         "--quiet",
                                         "--data-dir",
                                         TEXTGRAD_DATA_DIR,
                                         "--optimizer",
                                         "gepa",
                                         "--minibatch",
                                         std::to_string(kMinibatch),
                                         "--max-metric-calls",
                                         std::to_string(s.max_metric_calls),
                                         "--concurrency",
                                         std::to_string(s.concurrency),
                                         "--max-in-flight",
                                         std::to_string(s.concurrency),
                                         "--run-dir",
                                         run_dir.string()};
  const std::size_t before = server.request_count();
  const auto start = std::chrono::steady_clock::now();
  const tg::testing::ProcessResult r =
      tg::testing::run_process(args, {{"OPENAI_API_KEY", "mock"},
                                      {"OPENAI_BASE_URL", server.base_url() + "/v1"},
                                      {"TEXTGRAD_CACHE_DIR", (dir / "cache").string()}});
  Run run;
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (r.exit_code != 0) throw std::runtime_error("the run failed: " + r.err);
  run.requests = server.request_count() - before;
  add_bound(run_dir, s.concurrency, run);
  fs::remove_all(run_dir);
  return run;
}

void run(const Settings& s) {
  const tg::testing::MockModel model(TEXTGRAD_DATA_DIR);
  tg::fake::FakeLlmServer server(
      [&](const tg::fake::RecordedRequest& request) {
        return model(request).with_delay(std::chrono::milliseconds(s.delay_ms));
      },
      s.concurrency + 16);
  char pattern[] = "/tmp/textgrad-search-bench-XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("cannot create a temporary directory");
  std::vector<Run> runs;
  for (int i = 0; i < s.runs; ++i) runs.push_back(run_once(s, pattern, server, i));
  std::sort(runs.begin(), runs.end(),
            [](const Run& a, const Run& b) { return a.wall_s < b.wall_s; });
  const Run& m = runs[runs.size() / 2];
  const double bound = m.bound_rounds * s.delay_ms / 1000.0;
  std::printf(
      "gepa on object_counting (50 train, 100 validation, 100 test), %d ms per answer, "
      "--max-metric-calls %d, concurrency and in-flight %d, median of %d runs\n\n"
      "%8s %9s %10s %10s %8s %8s %8s %7s\n%8.2f %9.2f %10.3f %10d %8zu %8d %8d %7d\n",
      s.delay_ms, s.max_metric_calls, s.concurrency, s.runs, "wall s", "bound s", "wall/bound",
      "rounds", "requests", "proposals", "accepted", "reflect", m.wall_s, bound,
      bound > 0 ? m.wall_s / bound : 0, m.bound_rounds, m.requests, m.proposals, m.accepted,
      m.reflections);
  std::printf("all runs' wall s:");
  for (const Run& r : runs) std::printf(" %.2f", r.wall_s);
  std::printf("\n");
  fs::remove_all(pattern);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  if (!parse(argc, argv, settings)) {
    std::fprintf(stderr,
                 "usage: %s [--delay-ms 200] [--runs 3] [--max-metric-calls 400] "
                 "[--concurrency 32]\n",
                 argv[0]);
    return 2;
  }
  try {
    run(settings);
  } catch (const std::exception& e) {
    std::printf("benchmark could not run: %s\n", e.what());
  }
  return 0;
}
