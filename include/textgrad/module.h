// Module: a base for systems of several LLM calls (or anything else) that own trainable
// Variables, like torch.nn.Module. Register parameters and sub-modules in the constructor;
// parameters() lists them all, each once, in registration order, ready for an optimizer.
//
//   class Pipeline : public tg::Module {
//    public:
//     Pipeline(tg::EnginePtr e)
//         : plan_(register_parameter(tg::Variable("Plan first.", "planner system prompt"))),
//           solve_(register_parameter(tg::Variable("Solve.", "solver system prompt"))) {}
//     ...
//   };
//
// Thread safety: register_* only during construction; parameters() from any thread after.
// A registered sub-module must outlive this module (it is held by reference).
#pragma once

#include <functional>
#include <vector>

#include "textgrad/variable.h"

namespace tg {

class Module {
 public:
  virtual ~Module() = default;

  // Own parameters, then each sub-module's, in registration order, without repeats.
  virtual std::vector<Variable> parameters() const;

  // Clears the feedback of every parameter.
  void zero_grad() const;

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  // Returns `parameter` so it can initialize a member. InvalidArgument if it is empty or does
  // not require grad.
  Variable register_parameter(Variable parameter);
  void register_module(const Module& module);

 private:
  std::vector<Variable> own_;
  std::vector<std::reference_wrapper<const Module>> children_;
};

}  // namespace tg
