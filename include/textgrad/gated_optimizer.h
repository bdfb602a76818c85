// An optimizer wrapper that gates every step (see textgrad/gate.h) and can keep the best
// values seen.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "textgrad/gate.h"
#include "textgrad/optimizer.h"

namespace tg {

// Scores the parameters' current values on the gate set: one score per item, higher is
// better, the same items in the same order on every call. Called from step() (and from the
// first step(), for the starting values), on the caller's thread.
using GateScorer = std::function<std::vector<double>()>;

struct GatedOptions {
  GateOptions gate;
  // Remember the values with the best mean gate score (the earliest on ties); restore_best()
  // puts them back.
  bool keep_best = false;
};

// Runs the wrapped optimizer's step, scores the new values, and keeps them only if the gate
// accepts; otherwise the parameters get their old values back and the wrapped optimizer its
// old state, so a rejected step leaves no trace but the report. A step that changed nothing is
// not scored.
//
// Thread safety: as Optimizer. The scorer must not call back into this object.
class GatedOptimizer : public Optimizer {
 public:
  GatedOptimizer(std::shared_ptr<Optimizer> inner, GateScorer scorer, GatedOptions options = {});

  std::string name() const override { return inner_->name(); }
  const std::vector<Variable>& parameters() const override { return inner_->parameters(); }
  void zero_grad() override { inner_->zero_grad(); }
  // StepReport::gate holds the decision and its figures.
  StepReport step() override;

  // The wrapped optimizer's state plus the gate's baseline scores and the best values.
  std::string state() const override;
  void load_state(const std::string& state) override;

  // Scores of the current values (empty before they were first scored). A caller that already
  // scored the starting values may set them, to save the first evaluation.
  const std::vector<double>& current_scores() const { return baseline_; }
  void set_current_scores(std::vector<double> scores);

  // keep_best: the best values seen so far and their mean score; restore_best() sets them.
  const std::vector<std::string>& best_values() const { return best_values_; }
  double best_score() const { return best_mean_; }
  void restore_best();

  const GatedOptions& options() const { return options_; }
  Optimizer& inner() { return *inner_; }

 private:
  void ensure_scored();
  void offer_best();
  std::vector<std::string> values() const;
  void set_values(const std::vector<std::string>& values);

  std::shared_ptr<Optimizer> inner_;
  GateScorer scorer_;
  GatedOptions options_;
  bool scored_ = false;
  std::vector<double> baseline_;
  std::vector<std::string> best_values_;
  double best_mean_ = 0;
};

}  // namespace tg
