// User-defined graph functions with their own backward, like torch.autograd.Function.
//
//   class Extract : public tg::CustomFunction {
//     std::string name() const override { return "Extract"; }
//     std::string forward(const std::vector<std::string>& in) override { return in[0] + "!"; }
//     std::vector<std::string> backward(const tg::CustomBackward& b) override {
//       return {"The extracted text was criticized: " + b.output_feedback};
//     }
//   };
//   tg::Variable out = tg::apply(std::make_shared<Extract>(), {x}, "extracted answer");
//
// The output's backward runs in the same executor as every built-in function: after every
// consumer of the output has delivered its feedback, before its inputs' own backward, with the
// same deterministic feedback order. An exception thrown by backward() surfaces from
// Variable::backward() as a BackwardError naming the node, like any other failure.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/prompts.h"
#include "textgrad/variable.h"

namespace tg {

// What a custom backward sees.
struct CustomBackward {
  const std::vector<Variable>& inputs;  // in the order given to apply()
  const Variable& output;
  // The downstream feedback on the output, joined by newlines; empty when the output is the
  // loss itself (TextGrad's "base mode").
  std::string output_feedback;
  // The engine of this backward pass, for the function's own LLM calls (blocking calls are
  // fine: backward runs on a worker of the pass), and the templates of the pass.
  Engine& engine;
  const Prompts& prompts;
  // The sampling settings of the pass, for the function's own calls.
  const std::optional<SamplingParams>& sampling;
};

// Thread safety: forward() and backward() may run on any thread, and calls for different
// outputs may overlap; a function object shared across outputs must be thread-safe.
class CustomFunction {
 public:
  virtual ~CustomFunction() = default;

  virtual std::string name() const = 0;

  // Computes the output text from the input values, once every input is ready. May call an
  // engine (blocking): unless its inputs were ready when it was applied, it runs on a worker
  // of the library's executor, never on an engine's I/O thread.
  // An exception makes the output fail (Variable::value() rethrows it).
  virtual std::string forward(const std::vector<std::string>& input_values) = 0;

  // Feedback for each input, in order: one string per input (an empty string = no feedback).
  // Inputs that do not require grad never receive it. Called once per backward pass.
  virtual std::vector<std::string> backward(const CustomBackward& call) = 0;
};

// Adds `function` to the graph on `inputs`; the output requires grad and has `output_role`.
Variable apply(std::shared_ptr<CustomFunction> function, std::vector<Variable> inputs,
               std::string output_role);

}  // namespace tg
