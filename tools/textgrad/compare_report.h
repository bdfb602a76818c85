// The comparison report of `textgrad compare` (compare_cmd.h): per optimizer the accuracy
// curves over seeds, final and best test accuracy, calls, tokens, dollars and wall time, and
// paired significance tests on the test items; as report.md, a self-contained report.html
// (inline CSS and SVG) and summary.json. Built from the runs' summaries alone (run_summary.h),
// so the figures are those of the run directories and the same for the same runs.
//
// Note [Paired test of final prompts]
// Two optimizers are compared on the per-item test scores (0/1) of their final prompts, paired
// by seed and test item: run k of A against run k of B on the same test item. Only discordant
// pairs carry information (A right and B wrong, or the reverse); under "no difference" each is
// equally likely either way, so the exact two-sided McNemar test is a binomial test on them:
// p = min(1, 2 P(X >= max(a, b))), X ~ Binomial(a + b, 1/2) (tg::sign_test_p_value). Every
// pair of optimizers is tested, and the p-values are adjusted for the number of pairs by Holm's
// step-down method; a difference is called significant when its adjusted p-value is at most
// alpha (0.05). Pooling seeds treats a test item solved under two seeds as two observations,
// which is what "over seeds" means here; the report says so.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "report.h"

namespace tg::cli {

// One (optimizer, seed) run of a comparison.
struct CompareRun {
  std::string optimizer;
  int seed = 0;
  std::string name;    // its directory under the comparison's, e.g. "tgd-seed1"
  RunSummary summary;  // load_summary of that directory
};

// Mean and spread over the seeds that have a figure.
struct Spread {
  std::optional<double> mean;
  double sd = 0;  // sample standard deviation (0 for one run)
  double min = 0;
  double max = 0;
  std::size_t n = 0;
};
Spread spread_of(const std::vector<double>& values);

struct CurvePoint {
  int step = 0;
  Spread val;
  Spread test;
};

struct OptimizerResult {
  std::string optimizer;
  std::size_t runs = 0;      // run directories found
  std::size_t finished = 0;  // runs whose last session finished
  Spread final_test;         // the last recorded step's test accuracy
  Spread best_test;          // the best test accuracy over a run's steps
  Spread final_val;
  Spread calls;         // LLM calls, cache hits included (the work, whatever the order)
  Spread billed_calls;  // calls not answered by the cache
  Spread tokens;        // billed input + output tokens
  Spread cost_usd;
  Spread wall_seconds;
  std::vector<CurvePoint> curve;  // by step
};

struct PairedTest {
  std::string a, b;
  std::size_t a_only = 0;  // (seed, item) pairs a solved and b did not
  std::size_t b_only = 0;
  std::size_t pairs = 0;  // (seed, item) pairs compared
  double p_value = 1;     // exact two-sided McNemar
  double adjusted = 1;    // Holm-adjusted over all pairs
  bool significant = false;
};

struct Comparison {
  std::string task;
  std::string engine;
  int seeds = 0;
  double alpha = 0.05;
  std::vector<CompareRun> runs;
  std::vector<OptimizerResult> optimizers;  // in the order given
  std::vector<PairedTest> tests;            // every pair, in the order given
};

// The exact two-sided McNemar p-value for `a` and `b` discordant pairs (1 when there are none).
double mcnemar_p_value(std::size_t a, std::size_t b);

Comparison compare_runs(std::vector<CompareRun> runs, const std::vector<std::string>& optimizers,
                        int seeds, double alpha = 0.05);

std::string render_compare_markdown(const Comparison& comparison);
std::string render_compare_html(const Comparison& comparison);
// summary.json: every figure of the report, for machines.
std::string render_compare_json(const Comparison& comparison);

}  // namespace tg::cli
