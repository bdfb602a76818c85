// `textgrad compare`: several optimizers over several seeds on one task with the same budget.
//
// Note [Compare is a loop over optimize runs]
// Each (optimizer, seed) pair is an ordinary `textgrad optimize` run in DIR/<optimizer>-seed<k>
// (run_optimize, or its --resume when the directory already holds an unfinished run), so
// `textgrad report` and `optimize --resume` understand every one of them and the comparison
// adds no second implementation of the protocol. The runs go one after another in a fixed
// order (optimizers as listed, then seeds 1..N) and share the response cache, so a call that
// two runs make identically (every step-0 evaluation, for one) is paid once. A run whose last
// session finished is skipped, so re-running the same command resumes where it stopped.
// DIR/report.html, report.md and summary.json (compare_report.h) are rebuilt from the run
// directories alone at the end.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace CLI {
class App;
}

namespace tg::cli {

struct CompareFlags {
  OptimizeFlags run;       // the task, engine, budget, size and optimizer flags of every run
  std::string optimizers;  // comma-separated: tgd, revolve, semantic, gepa
  int seeds = 3;           // seeds 1..N of every optimizer
  std::string run_dir;
};

void add_compare(CLI::App& app, CompareFlags& flags);
int run_compare(const CompareFlags& flags);

// "tgd, gepa" -> {"tgd", "gepa"}; InvalidArgument for an unknown or repeated name.
std::vector<std::string> parse_optimizer_list(const std::string& list);

}  // namespace tg::cli
