// `textgrad compare` end to end: two optimizers over two seeds against the mock model; the
// report's figures are recomputed here from the run directories it summarizes; a killed
// comparison resumes to the result of an uninterrupted one and skips finished runs; bad input
// exits 2 and leaves nothing behind.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "compare_report.h"
#include "support/cli_fixture.h"

namespace tg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ProcessResult;

constexpr const char* kKey = "fake-test-key-compare-0123456789abcdef";

// What the test reads from one run directory by itself.
struct RunFiles {
  double final_test = 0;
  double best_test = 0;
  std::vector<int> final_scores;
  long calls = 0;
  long cache_hits = 0;
  std::string final_prompt;
};

RunFiles read_run(const std::string& dir) {
  RunFiles r;
  std::vector<fs::path> steps;
  for (const auto& f : fs::directory_iterator(dir + "/steps")) {
    if (f.path().filename().string().starts_with("step_")) steps.push_back(f.path());
  }
  std::sort(steps.begin(), steps.end());
  for (const fs::path& path : steps) {
    const json step = json::parse(testing::read_text(path.string()));
    const double test = step.at("test_accuracy").get<double>();
    r.best_test = std::max(r.best_test, test);
    r.final_test = test;
    r.final_scores = step.at("test_scores").get<std::vector<int>>();
  }
  std::istringstream events(testing::read_text(dir + "/events.jsonl"));
  std::string line;
  while (std::getline(events, line)) {
    const json event = json::parse(line);
    if (event["type"] != "call") continue;
    ++r.calls;
    r.cache_hits += event.value("cache_hit", false);
  }
  r.final_prompt = testing::read_text(dir + "/final_prompt.txt");
  return r;
}

// P(X >= k), X ~ Binomial(n, 1/2), by Pascal's triangle (independent of the tool's lgamma sum).
double upper_tail(int k, int n) {
  std::vector<double> row{1};
  for (int i = 0; i < n; ++i) {
    std::vector<double> next(row.size() + 1, 0);
    for (size_t j = 0; j < row.size(); ++j) next[j] += row[j] / 2, next[j + 1] += row[j] / 2;
    row = next;
  }
  double p = 0;
  for (int j = k; j <= n; ++j) p += row[static_cast<size_t>(j)];
  return p;
}

// A run whose final step scored `right` of `items` test items, the first ones.
cli::CompareRun scored_run(const std::string& optimizer, int right, int items) {
  cli::StepRecord step;
  step.step = 1;
  for (int i = 0; i < items; ++i) step.test_scores.push_back(i < right ? 1 : 0);
  step.test_accuracy = static_cast<double>(right) / items;
  cli::CompareRun run{optimizer, 1, optimizer + "-seed1", {}};
  run.summary.steps = {step};
  run.summary.outcome = "finished";
  return run;
}

TEST(CompareReport, PairedTestsAreExactMcNemarWithHolmAdjustment) {
  // a solves all 12 items, b the first 2, c the first 11.
  const cli::Comparison c =
      cli::compare_runs({scored_run("a", 12, 12), scored_run("b", 2, 12), scored_run("c", 11, 12)},
                        {"a", "b", "c"}, 1);
  ASSERT_EQ(c.tests.size(), 3u);
  const cli::PairedTest &ab = c.tests[0], &ac = c.tests[1], &bc = c.tests[2];
  EXPECT_EQ(ab.a_only, 10u);
  EXPECT_EQ(ab.b_only, 0u);
  EXPECT_DOUBLE_EQ(ab.p_value, 2 * std::pow(0.5, 10));
  EXPECT_EQ(bc.b_only, 9u);
  EXPECT_DOUBLE_EQ(bc.p_value, 2 * std::pow(0.5, 9));
  EXPECT_DOUBLE_EQ(ac.p_value, 1.0);  // one discordant pair: 2 x P(X >= 1) capped at 1
  // Holm: the smallest p times 3, the next times 2 (kept non-decreasing), the last times 1.
  EXPECT_DOUBLE_EQ(ab.adjusted, 3 * ab.p_value);
  EXPECT_DOUBLE_EQ(bc.adjusted, 2 * bc.p_value);
  EXPECT_DOUBLE_EQ(ac.adjusted, 1.0);
  EXPECT_TRUE(ab.significant);
  EXPECT_TRUE(bc.significant);
  EXPECT_FALSE(ac.significant);
  EXPECT_DOUBLE_EQ(cli::mcnemar_p_value(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(cli::mcnemar_p_value(3, 3), 1.0);

  const cli::Spread s = cli::spread_of({0.5, 1.0});
  EXPECT_DOUBLE_EQ(*s.mean, 0.75);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(0.125));
  EXPECT_EQ(s.n, 2u);
  EXPECT_FALSE(cli::spread_of({}).mean);
}

class CompareTest : public testing::CliFixture {
 protected:
  CompareTest() : CliFixture(kKey) {}

  std::vector<std::string> compare_args(const std::string& run_dir) const {
    return {"compare",
            "--task",
            "object_counting",
            "--engine",
            "openai/gpt-4o-mini",
            "--optimizers",
            "tgd,gepa",
            "--seeds",
            "2",
            "--steps",
            "2",
            "--train-size",
            "6",
            "--val-size",
            "6",
            "--test-size",
            "8",
            "--minibatch",
            "2",
            "--max-metric-calls",
            "30",
            "--run-dir",
            run_dir,
            "--quiet"};
  }

  static json without_wall_time(json summary) {
    for (json& o : summary["optimizers"]) o.erase("wall_seconds");
    for (json& r : summary["runs"]) r.erase("wall_seconds");
    return summary;
  }
};

TEST_F(CompareTest, ReportFiguresMatchTheRunDirectories) {
  const std::string dir = dir_.file("cmp");
  ProcessResult r = run(compare_args(dir));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = json::parse(testing::read_text(dir + "/summary.json"));
  ASSERT_EQ(summary["optimizers"].size(), 2u);

  std::map<std::string, std::vector<RunFiles>> runs;
  long billed = 0, calls = 0;
  for (const std::string optimizer : {"tgd", "gepa"}) {
    for (int seed = 1; seed <= 2; ++seed) {
      const std::string run_dir = dir + "/" + optimizer + "-seed" + std::to_string(seed);
      const json config = json::parse(testing::read_text(run_dir + "/config.json"));
      EXPECT_EQ(config["optimizer"]["optimizer"], optimizer);
      EXPECT_EQ(config["seed"], seed);
      EXPECT_TRUE(fs::exists(run_dir + "/report.html"));  // an ordinary optimize run
      runs[optimizer].push_back(read_run(run_dir));
      billed += runs[optimizer].back().calls - runs[optimizer].back().cache_hits;
      calls += runs[optimizer].back().calls;
    }
  }
  EXPECT_TRUE(fs::exists(dir + "/gepa-seed1/search_state.json"));
  // The runs share the cache: the server answered each billed call once, and the step-0
  // evaluations every run makes alike were paid for once.
  EXPECT_EQ(static_cast<long>(server_->request_count()), billed);
  EXPECT_LT(billed, calls);

  for (const json& o : summary["optimizers"]) {
    const auto& files = runs.at(o["optimizer"].get<std::string>());
    EXPECT_EQ(o["runs"], 2);
    EXPECT_EQ(o["finished"], 2);
    EXPECT_DOUBLE_EQ(o["final_test"]["mean"].get<double>(),
                     (files[0].final_test + files[1].final_test) / 2);
    EXPECT_NEAR(o["final_test"]["sd"].get<double>(),
                std::abs(files[0].final_test - files[1].final_test) / std::sqrt(2.0), 1e-12);
    EXPECT_DOUBLE_EQ(o["best_test"]["mean"].get<double>(),
                     (files[0].best_test + files[1].best_test) / 2);
    EXPECT_DOUBLE_EQ(o["calls"]["mean"].get<double>(), (files[0].calls + files[1].calls) / 2.0);
  }
  // The paired test, recomputed from the per-item test scores of the final prompts.
  ASSERT_EQ(summary["tests"].size(), 1u);
  const json& test = summary["tests"][0];
  int tgd_only = 0, gepa_only = 0;
  for (int k = 0; k < 2; ++k) {
    const auto& a = runs["tgd"][k].final_scores;
    const auto& b = runs["gepa"][k].final_scores;
    ASSERT_EQ(a.size(), 8u);
    ASSERT_EQ(b.size(), 8u);
    for (size_t i = 0; i < a.size(); ++i) tgd_only += a[i] && !b[i], gepa_only += b[i] && !a[i];
  }
  EXPECT_EQ(test["a"], "tgd");
  EXPECT_EQ(test["a_only"], tgd_only);
  EXPECT_EQ(test["b_only"], gepa_only);
  EXPECT_EQ(test["pairs"], 16);
  const int n = tgd_only + gepa_only;
  const double p = n == 0 ? 1 : std::min(1.0, 2 * upper_tail(std::max(tgd_only, gepa_only), n));
  EXPECT_NEAR(test["p_value"].get<double>(), p, 1e-9);
  EXPECT_EQ(test["significant"], p <= 0.05);  // one pair: Holm changes nothing

  const std::string html = testing::read_text(dir + "/report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("McNemar"), std::string::npos);
  EXPECT_NE(html.find("href=\"tgd-seed1/report.html\""), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);       // no external asset
  for (const std::string optimizer : {"tgd", "gepa"}) {  // the accuracy-against-calls plot
    for (int seed = 1; seed <= 2; ++seed) {
      const std::string point = optimizer + "-seed" + std::to_string(seed) + ": " +
                                std::to_string(runs[optimizer][seed - 1].calls) + " calls";
      EXPECT_NE(html.find(point), std::string::npos) << point;
    }
  }
  const std::string md = testing::read_text(dir + "/report.md");
  EXPECT_NE(md.find("| gepa-seed2 | finished |"), std::string::npos) << md;

  // Same seeds, same answers: the same figures, from a cold cache or a warm one.
  const std::string again = dir_.file("again");
  ASSERT_EQ(run(compare_args(again), {{"TEXTGRAD_CACHE_DIR", dir_.file("cache-cold")}}).exit_code,
            0);
  EXPECT_EQ(without_wall_time(json::parse(testing::read_text(again + "/summary.json"))).dump(),
            without_wall_time(summary).dump());
}

TEST_F(CompareTest, AKilledComparisonResumesAndSkipsFinishedRuns) {
  const std::string whole = dir_.file("whole");
  ASSERT_EQ(run(compare_args(whole)).exit_code, 0);

  const std::map<std::string, std::string> cache = {{"TEXTGRAD_CACHE_DIR", dir_.file("cache2")}};
  auto stop = cache;
  stop["TEXTGRAD_TEST_SIGNAL_AFTER_CALLS"] = "20:TERM";  // in step 1 of the first run
  const std::string dir = dir_.file("cut");
  ProcessResult cut = run(compare_args(dir), stop);
  ASSERT_EQ(cut.exit_code, 143) << cut.err;
  EXPECT_NE(cut.err.find("run the same command again"), std::string::npos) << cut.err;
  EXPECT_FALSE(fs::exists(dir + "/tgd-seed2"));
  EXPECT_NE(testing::read_text(dir + "/report.md").find("| tgd-seed1 | interrupted |"),
            std::string::npos);

  ProcessResult resumed = run(compare_args(dir), cache);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  for (const std::string name : {"tgd-seed1", "tgd-seed2", "gepa-seed1", "gepa-seed2"}) {
    EXPECT_EQ(testing::read_text(dir + "/" + name + "/final_prompt.txt"),
              testing::read_text(whole + "/" + name + "/final_prompt.txt"))
        << name;
  }
  const json a = json::parse(testing::read_text(whole + "/summary.json"));
  const json b = json::parse(testing::read_text(dir + "/summary.json"));
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(a["optimizers"][k]["final_test"], b["optimizers"][k]["final_test"]);
    EXPECT_EQ(a["optimizers"][k]["best_test"], b["optimizers"][k]["best_test"]);
  }
  EXPECT_EQ(a["tests"], b["tests"]);

  // Everything finished: a third run of the command sends nothing and changes no run.
  const std::string events = testing::read_text(dir + "/gepa-seed2/events.jsonl");
  const size_t requests = server_->request_count();
  ProcessResult again = run(compare_args(dir), cache);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server_->request_count(), requests);
  EXPECT_EQ(testing::read_text(dir + "/gepa-seed2/events.jsonl"), events);
  EXPECT_EQ(json::parse(testing::read_text(dir + "/summary.json"))["tests"], b["tests"]);
}

TEST_F(CompareTest, BadInputExitsTwoAndLeavesNothing) {
  auto with = [&](std::vector<std::pair<std::string, std::string>> changes) {
    std::vector<std::string> args = compare_args(dir_.file("bad"));
    for (const auto& [flag, value] : changes) {
      auto at = std::find(args.begin(), args.end(), flag);
      if (value.empty()) {
        args.erase(at, at + 2);
      } else if (at == args.end()) {
        args.insert(args.end(), {flag, value});
      } else {
        *(at + 1) = value;
      }
    }
    return run(args);
  };
  const std::pair<ProcessResult, std::string> cases[] = {
      {with({{"--optimizers", "tgd,adam"}}), "unknown optimizer 'adam'"},
      {with({{"--optimizers", "tgd,tgd"}}), "names 'tgd' twice"},
      {with({{"--seeds", "0"}}), "--seeds must be 1 or more"},
      {with({{"--max-metric-calls", ""}}), "--max-metric-calls"},
      {with({{"--minibatch", "7"}}), "larger than the training set (6 items)"},
      {with({{"--selection", "greedy"}}), "pareto, best or epsilon-greedy"},
      {with({{"--engine", "nowhere/model"}}), "nowhere"},  // refused by the first run's start
  };
  for (const auto& [r, message] : cases) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir_.file("bad")));
  EXPECT_EQ(server_->request_count(), 0u);
}

}  // namespace
}  // namespace tg
