// sum, aggregate and concatenation: no LLM call forward; backward hands the feedback on the
// combined text to each part.
#include <fmt/format.h>

#include "autograd/llm_function.h"
#include "autograd/node.h"
#include "textgrad/errors.h"
#include "textgrad/functions.h"
#include "textgrad/prompts.h"
#include "util/text.h"

namespace tg {
namespace {

class CombineFunction : public detail::Function {
 public:
  explicit CombineFunction(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  bool backward_never_blocks() const override { return true; }

  // Note [One gradient per part]
  // Each part gets the feedback exactly once, and nothing when the combined text got no real
  // feedback; so losses under a sum run in base mode (docs/reference-defects.md#sum-feedback).
  std::vector<detail::EdgeJob> backward(detail::Node& output,
                                        const detail::BackwardContext& context) override {
    const std::string feedback = detail::feedback_text(output.gradients());
    if (feedback.empty()) return {};
    const auto groups = output.reduce_groups();
    const std::uint64_t source = output.id;
    std::vector<detail::EdgeJob> jobs;
    for (const detail::NodePtr& pred : output.predecessors) {
      if (!pred->requires_grad() || pred->image) continue;
      auto run = [&context, pred, feedback, groups, source]() -> std::optional<Gradient> {
        const std::string role = pred->role();
        Gradient gradient;
        gradient.text =
            context.prompts.render("sum_feedback", {{"role", role}, {"feedback", feedback}});
        gradient.role = context.prompts.render("feedback_role", {{"role", role}});
        gradient.reduce_groups = groups;
        gradient.sources = {source};
        return gradient;
      };
      jobs.push_back(detail::single_job(pred, std::move(run), /*calls_llm=*/false));
    }
    return jobs;
  }

 private:
  const std::string name_;
};

Variable combine(const std::vector<Variable>& variables, const std::string& separator,
                 std::string role, const char* name) {
  if (variables.empty()) throw InvalidArgument(fmt::format("{} needs at least one Variable", name));
  std::vector<detail::NodePtr> predecessors = detail::distinct_nodes(variables);
  bool requires_grad = false;
  for (const auto& node : predecessors) requires_grad |= node->requires_grad();
  detail::NodePtr output = detail::make_pending_node(std::move(role), predecessors);
  output->set_requires_grad(requires_grad);
  output->grad_fn = std::make_shared<CombineFunction>(name);
  std::vector<detail::NodePtr> parts;
  for (const Variable& v : variables) parts.push_back(v.node());
  std::weak_ptr<detail::Node> weak_output = output;
  detail::when_all_settled(predecessors, [parts, separator, weak_output] {
    detail::NodePtr out = weak_output.lock();
    if (!out) return;
    if (auto error = detail::first_error(parts)) return out->fail(error);
    std::vector<std::string> values;
    for (const auto& part : parts) values.push_back(part->value());
    out->settle(util::join(values, separator));
  });
  return Variable(output);
}

std::vector<std::string> roles_of(const std::vector<Variable>& variables) {
  std::vector<std::string> roles;
  for (const Variable& v : variables) roles.push_back(v.role_description());
  return roles;
}

std::string combination_role(const std::vector<Variable>& variables) {
  return default_prompts().render("sum_role", {{"roles", util::join(roles_of(variables), ", ")}});
}

}  // namespace

Variable sum(const std::vector<Variable>& variables) {
  return combine(variables, "\n", combination_role(variables), "sum");
}

Variable aggregate(const std::vector<Variable>& variables) {
  Variable output = combine(variables, "\n", combination_role(variables), "aggregate");
  output.node()->add_reduce_groups({output.id()});
  return output;
}

Variable concat(const std::vector<Variable>& variables, std::string separator) {
  return combine(variables, separator,
                 default_prompts().render("concat_role",
                                          {{"roles", util::join(roles_of(variables), " and ")}}),
                 "concat");
}

Variable operator+(const Variable& a, const Variable& b) { return concat({a, b}, "\n"); }

}  // namespace tg
