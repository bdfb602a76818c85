// Textual Gradient Descent: rewrites each parameter from the feedback it received.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/prompts.h"
#include "textgrad/variable.h"

namespace tg {

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
  // Show the last N values of the parameter in the update request (momentum / REVOLVE-style
  // history); repeated feedback then pushes the optimizer to bolder edits.
  int momentum = 0;
  // How many parameters are updated at once.
  int concurrency = 8;
  // Templates to use; null means the built-in ones.
  std::shared_ptr<const Prompts> prompts;
};

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
};

struct StepReport {
  std::vector<UpdateOutcome> outcomes;  // in parameter order
  int updated() const;
};

// Thread safety: one step() or zero_grad() at a time per optimizer.
class TextualGradientDescent {
 public:
  TextualGradientDescent(std::vector<Variable> parameters, EnginePtr engine,
                         TGDOptions options = {});

  // Updates every parameter from its feedback, concurrently. A parameter whose answer cannot
  // be parsed keeps its value (see the report); the others are updated regardless. If the
  // engine failed for some parameter, the first such error is rethrown after all the other
  // updates are done.
  StepReport step();

  // Clears the parameters' feedback, contexts and aggregate tags.
  void zero_grad();

  const std::vector<Variable>& parameters() const { return parameters_; }

  // The request step() would send for `parameter` now.
  Request update_request(const Variable& parameter) const;

 private:
  struct History {
    std::vector<std::string> values;
    std::vector<std::string> feedback;
  };
  UpdateOutcome update(Variable parameter);
  void append_feedback(const Variable& parameter, std::vector<ContentPart>& parts) const;
  std::string closing_sections(const Variable& parameter, const std::string& role) const;
  std::string history_sections(const Variable& parameter, const std::string& role) const;
  void remember(const Variable& parameter, const std::string& old_value);

  std::vector<Variable> parameters_;
  EnginePtr engine_;
  TGDOptions options_;
  std::shared_ptr<const Prompts> prompts_;
  mutable std::mutex history_mu_;
  std::map<std::uint64_t, History> history_;
};

using TGD = TextualGradientDescent;

}  // namespace tg
