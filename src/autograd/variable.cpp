#include "textgrad/variable.h"

#include <fmt/format.h>

#include "autograd/backward.h"
#include "autograd/node.h"
#include "textgrad/errors.h"
#include "textgrad/prompts.h"
#include "util/image.h"
#include "util/text.h"

namespace tg {
namespace {

std::string checked_role(std::string role) {
  if (util::trim(role).empty()) {
    throw InvalidArgument(
        "a Variable needs a role description that says what its text is, e.g. \"system prompt "
        "for a math tutor\"; it is shown to the feedback and update engines");
  }
  return role;
}

}  // namespace

Variable::Variable(std::string value, std::string role_description, bool requires_grad)
    : node_(detail::make_ready_node(std::move(value), checked_role(std::move(role_description)),
                                    requires_grad)) {}

Variable Variable::image(std::string bytes, std::string role_description) {
  if (bytes.empty())
    throw InvalidArgument("the image is empty: give the bytes of a PNG, JPEG, GIF or WebP file");
  std::optional<std::string> type = util::detect_image_type(bytes);
  if (!type) {
    throw InvalidArgument(
        "the image is not PNG, JPEG, GIF or WebP (checked by its first bytes): convert it to "
        "one of these formats");
  }
  auto node = detail::make_ready_node("", checked_role(std::move(role_description)), false);
  node->image = ContentPart::Image(*type, std::move(bytes));
  return Variable(std::move(node));
}

Variable Variable::image_file(const std::string& path, std::string role_description) {
  std::string bytes = util::read_file(path);
  if (bytes.empty()) throw InvalidArgument(fmt::format("the image file '{}' is empty", path));
  if (const auto type = util::detect_image_type(bytes)) {
    if (auto problem = util::truncation_problem(bytes, *type))
      throw InvalidArgument(fmt::format("'{}': {}", path, *problem));
  }
  try {
    return image(std::move(bytes), std::move(role_description));
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("'{}': {}", path, e.what()));
  }
}

const std::shared_ptr<detail::Node>& Variable::node() const {
  if (!node_)
    throw InvalidArgument("this Variable is empty (default-constructed): assign one first");
  return node_;
}

std::uint64_t Variable::id() const { return node()->id; }
std::string Variable::value() const { return node()->value(); }
void Variable::set_value(std::string value) {
  if (is_image()) throw InvalidArgument("cannot set a text value on an image Variable");
  node()->set_value(std::move(value));
}
bool Variable::ready() const { return node()->ready(); }
void Variable::wait() const { node()->wait(); }
bool Variable::is_image() const { return node()->image.has_value(); }

ContentPart Variable::image_part() const {
  if (!is_image()) throw InvalidArgument(fmt::format("{} is not an image", describe()));
  return *node_->image;
}

std::string Variable::role_description() const { return node()->role(); }
void Variable::set_role_description(std::string role_description) {
  node()->set_role(checked_role(std::move(role_description)));
}

bool Variable::requires_grad() const { return node()->requires_grad(); }
void Variable::set_requires_grad(bool requires_grad) {
  if (requires_grad && is_image()) {
    throw InvalidArgument(fmt::format(
        "{} is an image: images cannot receive feedback; optimize a text Variable instead",
        describe()));
  }
  node()->set_requires_grad(requires_grad);
}

std::vector<Variable> Variable::predecessors() const {
  std::vector<Variable> out;
  for (const auto& p : node()->predecessors) out.emplace_back(p);
  return out;
}

std::vector<Gradient> Variable::gradients() const { return node()->gradients(); }

std::string Variable::gradient_text() const {
  std::vector<std::string> texts;
  for (const Gradient& g : gradients()) texts.push_back(g.text);
  return util::join(texts, "\n");
}

void Variable::add_gradient(std::string feedback) {
  Gradient g;
  g.text = std::move(feedback);
  g.role = default_prompts().render("feedback_role", {{"role", role_description()}});
  node()->add_gradient(std::move(g));
}

void Variable::zero_grad() { node()->zero_grad(); }

void Variable::backward(const EnginePtr& engine, const BackwardOptions& options) const {
  if (!engine) throw InvalidArgument("backward() needs an engine for the feedback calls");
  if (options.budget.conversation_tokens < 0 || options.budget.request_tokens < 0) {
    throw InvalidArgument("feedback budgets must be 0 (no limit) or a positive number of tokens");
  }
  const Prompts& prompts = options.prompts ? *options.prompts : default_prompts();
  detail::run_backward(node(), *engine, prompts, options);
}

std::string Variable::short_value(int n) const { return util::short_value(value(), n); }

std::string Variable::describe() const { return node()->describe(); }

}  // namespace tg
