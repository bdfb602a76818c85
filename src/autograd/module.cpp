#include "textgrad/module.h"

#include <algorithm>

#include <fmt/format.h>

#include "textgrad/errors.h"

namespace tg {

Variable Module::register_parameter(Variable parameter) {
  if (!parameter.defined()) throw InvalidArgument("register_parameter() got an empty Variable");
  if (!parameter.requires_grad()) {
    throw InvalidArgument(fmt::format(
        "register_parameter(): {} does not require grad, so no optimizer could change it; "
        "construct it with requires_grad = true",
        parameter.describe()));
  }
  own_.push_back(parameter);
  return parameter;
}

void Module::register_module(const Module& module) {
  if (&module == this) throw InvalidArgument("a Module cannot register itself");
  children_.emplace_back(module);
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  auto add = [&out](const Variable& v) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  for (const Variable& v : own_) add(v);
  for (const Module& child : children_) {
    for (const Variable& v : child.parameters()) add(v);
  }
  return out;
}

void Module::zero_grad() const {
  for (Variable v : parameters()) v.zero_grad();
}

}  // namespace tg
