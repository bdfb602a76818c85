// Optimizers: what rewrites the parameters from their feedback.
//
// tg::Optimizer is the interface every optimizer implements (TGD, REVOLVE, the gated wrapper
// in gated_optimizer.h, and users' own). An optimizer owns handles on its parameters, not the
// parameters themselves: the Variables stay usable elsewhere.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/gate.h"
#include "textgrad/prompts.h"
#include "textgrad/variable.h"

namespace tg {

struct UpdateOutcome {
  enum class Status {
    kUpdated,  // the parameter has its new value
    kKept,     // the answer had no usable value even after one repair request; old value kept
    kSkipped,  // the parameter had no feedback; no call was made
    kFailed,   // the engine failed; old value kept
  };
  Variable parameter;
  Status status = Status::kSkipped;
  std::string reason;  // why it was kept, skipped or failed
  std::string old_value;
  std::string new_value;
  int calls = 0;
  // Shortening to fit budgets, history left out, notes from the feedback (e.g. a missing
  // joint-feedback section): what a run record should show about this update.
  std::vector<std::string> notes;
};
const char* to_string(UpdateOutcome::Status status);

struct StepReport {
  std::string optimizer;                // name() of the optimizer that stepped
  std::vector<UpdateOutcome> outcomes;  // in parameter order
  std::optional<GateDecision> gate;     // set by a gated optimizer
  int updated() const;
};

// The interface of every optimizer.
//
// Thread safety: one call at a time per optimizer (step() itself may work concurrently).
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // A short lowercase name ("tgd", "revolve", ...), recorded in run directories.
  virtual std::string name() const = 0;
  virtual const std::vector<Variable>& parameters() const = 0;

  // Clears the parameters' feedback, contexts and aggregate tags.
  virtual void zero_grad();

  // Updates the parameters from their feedback and reports, per parameter, what changed and
  // why. Engine errors are rethrown after the other parameters are done.
  virtual StepReport step() = 0;

  // Everything the optimizer remembers between steps (histories, gate baselines), as a JSON
  // object in text. load_state(state()) on an optimizer built the same way, with parameters in
  // the same order, continues exactly where this one is: that is how a run resumes. Parameter
  // values are not part of the state (the caller restores them). load_state throws
  // InvalidArgument for text that is not such a state.
  virtual std::string state() const = 0;
  virtual void load_state(const std::string& state) = 0;
};

// Token budgets for update requests (see textgrad/budget.h; 0 = no limit).
struct UpdateBudget {
  // Each piece of feedback with its conversations.
  int feedback_tokens = 0;
  // The whole request: system prompt and user text (images not counted). Over it, feedback is
  // shortened together and, if each piece would fall below 100 characters, the last pieces
  // are left out and their number is stated in the request. The current value is never cut.
  int request_tokens = 0;
};

struct TGDOptions {
  // Rules the new value must follow, shown as "Constraint 1: ...".
  std::vector<std::string> constraints;
  // The tags around the new value in the optimizer's answer; used in the system prompt, the
  // format instructions and the parser alike.
  std::string start_tag = "<IMPROVED_VARIABLE>";
  std::string end_tag = "</IMPROVED_VARIABLE>";
  std::vector<std::string> in_context_examples;
  // Show the feedback of the last N steps in the update request.
  int gradient_memory = 0;
  // Show the last N values of the parameter (the current one included) in the update request
  // (TextGrad's momentum); repeated feedback then pushes the optimizer to bolder edits.
  int momentum = 0;
  // How many parameters are updated at once.
  int concurrency = 8;
  // Templates to use; null means the built-in ones.
  std::shared_ptr<const Prompts> prompts;
  UpdateBudget budget;
  // Sampling of the update calls; unset = the engine's defaults.
  std::optional<SamplingParams> sampling;
};

// Textual Gradient Descent.
class TextualGradientDescent : public Optimizer {
 public:
  TextualGradientDescent(std::vector<Variable> parameters, EnginePtr engine,
                         TGDOptions options = {});

  std::string name() const override { return "tgd"; }
  const std::vector<Variable>& parameters() const override { return parameters_; }

  // Updates every parameter from its feedback, concurrently. A parameter whose answer cannot
  // be parsed keeps its value (see the report); the others are updated regardless. If the
  // engine failed for some parameter, the first such error is rethrown after all the other
  // updates are done.
  StepReport step() override;

  std::string state() const override;
  void load_state(const std::string& state) override;

  // The request step() would send for `parameter` now.
  Request update_request(const Variable& parameter) const;

 protected:
  // The values a parameter had before each of its accepted updates, oldest first: the last
  // values_kept() of them (older ones are dropped, so state() stays the same size however
  // long a run is). Feedback is kept for the last TGDOptions::gradient_memory steps only.
  std::vector<std::string> past_values(size_t index) const;
  // TGD keeps the momentum window; REVOLVE, which shows the whole trajectory, keeps all.
  virtual size_t values_kept() const;
  // Overridden by REVOLVE: the system prompt template, and the sections after the feedback.
  virtual const char* system_template() const { return "optimizer_system"; }
  virtual std::string history_sections(size_t index, const Variable& parameter,
                                       const std::string& role,
                                       std::vector<std::string>& notes) const;
  const Prompts& prompts() const { return *prompts_; }

 private:
  struct History {
    std::vector<std::string> values;
    std::vector<std::string> feedback;
  };
  UpdateOutcome update(size_t index);
  Request build_request(size_t index, std::vector<std::string>& notes) const;
  std::vector<Gradient> shown_gradients(const Variable& parameter, size_t fixed_chars,
                                        size_t& omitted, std::vector<std::string>& notes) const;
  std::string closing_sections(size_t index, const Variable& parameter, const std::string& role,
                               std::vector<std::string>& notes) const;
  size_t index_of(const Variable& parameter) const;

  std::vector<Variable> parameters_;
  EnginePtr engine_;
  TGDOptions options_;
  std::shared_ptr<const Prompts> prompts_;
  mutable std::mutex history_mu_;
  std::vector<History> history_;  // by parameter index
};

using TGD = TextualGradientDescent;

// Which past values REVOLVE shows.
struct HistoryOptions {
  enum class Mode { kNone, kLastK, kAll };
  Mode mode = Mode::kAll;
  int last_k = 3;  // for kLastK
  // Budget of the history section; the oldest values are left out first (0 = no limit).
  int budget_tokens = 2000;
  // Also show the history in the feedback requests (the paper's design; the released REVOLVE
  // code shows it only in the update request). Pass feedback_history() to backward().
  bool in_feedback = false;
};

struct RevolveOptions {
  TGDOptions tgd;
  HistoryOptions history;
};

// REVOLVE: TGD whose update request shows the parameter's trajectory (its values so far),
// with instructions to read it: outputs that barely change mean the edits were too timid;
// do not swing to the other extreme. Its history is part of state().
class Revolve : public TextualGradientDescent {
 public:
  Revolve(std::vector<Variable> parameters, EnginePtr engine, RevolveOptions options = {});

  std::string name() const override { return "revolve"; }

  // For BackwardOptions::past_values when HistoryOptions::in_feedback is set (empty function
  // otherwise). Valid while this optimizer lives.
  std::function<std::vector<std::string>(const Variable&)> feedback_history() const;

 protected:
  const char* system_template() const override { return "revolve_optimizer_system"; }
  size_t values_kept() const override;
  std::string history_sections(size_t index, const Variable& parameter, const std::string& role,
                               std::vector<std::string>& notes) const override;

 private:
  // The values shown for parameter `index`, the current one last, within the budget.
  std::vector<std::string> shown_history(size_t index, const Variable& parameter,
                                         std::vector<std::string>& notes) const;
  HistoryOptions history_;
};

}  // namespace tg
