#include <algorithm>
#include <cctype>

#include "autograd/llm_function.h"
#include "autograd/node.h"
#include "textgrad/errors.h"
#include "textgrad/functions.h"
#include "textgrad/prompts.h"
#include "util/text.h"

namespace tg {
namespace {

// "ground_truth_answer" -> "Ground truth answer"
std::string label(const std::string& key) {
  std::string out = key;
  std::replace(out.begin(), out.end(), '_', ' ');
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

class StringFunctionNode : public detail::Function {
 public:
  StringFunctionNode(std::string purpose, Fields inputs)
      : purpose_(std::move(purpose)), inputs_(std::move(inputs)) {}

  std::string name() const override { return "StringBasedFunction"; }
  bool backward_never_blocks() const override { return true; }

  std::vector<detail::EdgeJob> backward(detail::Node& output,
                                        const detail::BackwardContext& context) override {
    std::vector<std::string> entries;
    for (const auto& [key, variable] : inputs_) {
      entries.push_back(
          context.prompts.render("function_input", {{"name", label(key)},
                                                    {"role", variable.role_description()},
                                                    {"value", variable.short_value()}}));
    }
    const std::string conversation =
        context.prompts.render("function_conversation", {{"purpose", purpose_},
                                                         {"inputs", util::join(entries, "\n\n")},
                                                         {"output", output.value()}});
    return detail::feedback_jobs(
        output, {conversation, {}, "function_backward_base", "function_backward_chain"}, context);
  }

 private:
  const std::string purpose_;
  const Fields inputs_;
};

}  // namespace

StringBasedFunction::StringBasedFunction(Fn fn, std::string purpose, Runs runs)
    : fn_(std::move(fn)), purpose_(std::move(purpose)), runs_(runs) {
  if (!fn_) throw InvalidArgument("StringBasedFunction needs a function");
}

Variable StringBasedFunction::operator()(const Fields& inputs, std::string response_role) const {
  std::vector<Variable> variables;
  for (const auto& [name, variable] : inputs) variables.push_back(variable);
  std::vector<detail::NodePtr> predecessors = detail::distinct_nodes(variables);
  detail::NodePtr output = detail::make_pending_node(std::move(response_role), predecessors);
  output->grad_fn = std::make_shared<StringFunctionNode>(purpose_, inputs);
  std::weak_ptr<detail::Node> weak_output = output;
  auto evaluate = [fn = fn_, inputs, predecessors, weak_output] {
    detail::NodePtr out = weak_output.lock();
    if (!out) return;
    if (auto error = detail::first_error(predecessors)) return out->fail(error);
    try {
      out->settle(fn(inputs));
    } catch (...) {
      out->fail(std::current_exception());
    }
  };
  if (runs_ == Runs::kInline) {
    detail::when_all_settled(predecessors, std::move(evaluate));
  } else {
    detail::run_when_settled(predecessors, std::move(evaluate));
  }
  return Variable(output);
}

}  // namespace tg
