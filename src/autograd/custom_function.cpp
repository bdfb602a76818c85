// tg::apply: a CustomFunction in the graph.
#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/llm_function.h"
#include "autograd/node.h"
#include "textgrad/errors.h"
#include "textgrad/function.h"
#include "textgrad/prompts.h"

namespace tg {
namespace {

class CustomNode : public detail::Function {
 public:
  CustomNode(std::shared_ptr<CustomFunction> function, std::vector<Variable> inputs)
      : function_(std::move(function)), inputs_(std::move(inputs)) {}

  std::string name() const override { return function_->name(); }
  void set_output(const detail::NodePtr& output) { output_ = output; }

  // One job for all inputs that require grad: the user's backward is one call.
  std::vector<detail::EdgeJob> backward(detail::Node& output,
                                        const detail::BackwardContext& context) override {
    std::vector<detail::NodePtr> targets;
    std::vector<size_t> positions;  // position of each target in inputs_
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const detail::NodePtr& node = inputs_[i].node();
      if (!node->requires_grad() || node->image) continue;
      if (std::find(targets.begin(), targets.end(), node) != targets.end()) continue;
      targets.push_back(node);
      positions.push_back(i);
    }
    if (targets.empty()) return {};
    detail::EdgeJob job;
    job.targets = targets;
    job.calls_llm = true;  // it may: run it on a worker
    const std::uint64_t source = output.id;
    job.run = [this, &output, &context, targets, positions, source] {
      detail::NodePtr self = output_.lock();
      if (!self) throw std::logic_error("the output of a custom function is gone");
      Variable out(self);
      CustomBackward call{inputs_,
                          out,
                          detail::feedback_text(output.gradients()),
                          context.engine,
                          context.prompts,
                          context.options.sampling};
      std::vector<std::string> feedback = function_->backward(call);
      if (feedback.size() != inputs_.size()) {
        throw InvalidArgument(fmt::format(
            "{}::backward returned {} feedback texts for {} inputs; return one per input (an "
            "empty string for none)",
            function_->name(), feedback.size(), inputs_.size()));
      }
      std::vector<std::optional<Gradient>> results;
      for (size_t t = 0; t < targets.size(); ++t) {
        std::string& text = feedback[positions[t]];
        if (text.empty()) {
          results.emplace_back();
          continue;
        }
        Gradient g;
        g.text = std::move(text);
        g.role = context.prompts.render("feedback_role", {{"role", targets[t]->role()}});
        g.sources = {source};
        results.push_back(std::move(g));
      }
      return results;
    };
    return {std::move(job)};
  }

 private:
  const std::shared_ptr<CustomFunction> function_;
  const std::vector<Variable> inputs_;
  std::weak_ptr<detail::Node> output_;
};

}  // namespace

Variable apply(std::shared_ptr<CustomFunction> function, std::vector<Variable> inputs,
               std::string output_role) {
  if (!function) throw InvalidArgument("apply() needs a function");
  for (const Variable& v : inputs) {
    if (!v.defined()) {
      throw InvalidArgument(fmt::format("{} got an empty Variable as an input", function->name()));
    }
  }
  std::vector<detail::NodePtr> predecessors = detail::distinct_nodes(inputs);
  detail::NodePtr output = detail::make_pending_node(std::move(output_role), predecessors);
  auto node = std::make_shared<CustomNode>(function, inputs);
  node->set_output(output);
  output->grad_fn = node;
  std::weak_ptr<detail::Node> weak_output = output;
  auto evaluate = [function, inputs, predecessors, weak_output] {
    detail::NodePtr out = weak_output.lock();
    if (!out) return;
    if (auto error = detail::first_error(predecessors)) return out->fail(error);
    try {
      std::vector<std::string> values;
      for (const Variable& v : inputs) values.push_back(v.value());
      out->settle(function->forward(values));
    } catch (...) {
      out->fail(std::current_exception());
    }
  };
  detail::run_when_settled(predecessors, std::move(evaluate));
  return Variable(output);
}

}  // namespace tg
