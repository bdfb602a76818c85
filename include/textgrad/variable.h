// Variable: a handle on a node of the computation graph.
//
// A Variable holds a text value (or an image), a role description that says what the text
// is, whether it requires feedback ("gradients"), the Variables it was computed from, and the
// feedback it received. Copies of a Variable share the same node, like torch.Tensor handles.
//
// A value may still be pending: an LLM call returns its output Variable at once and the
// answer arrives later. value() waits for it; ready() asks without waiting. If the call that
// produces the value failed, value() rethrows that error.
//
// Thread safety: all methods may be called from any thread. Mutating the graph (set_value,
// gradients) while backward() runs on it gives unspecified feedback, but is not a data race.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "textgrad/engine.h"

namespace tg {

class Prompts;
class Variable;

namespace detail {
struct Node;
}

// The conversation a piece of feedback was produced in.
struct GradientContext {
  std::string conversation;   // the rendered call (system prompt, input, output)
  std::string response_role;  // role of the output that was criticized
  std::string variable_role;  // role of the variable the feedback is for
  // For multimodal calls: the original input items (the conversation text then closes them).
  std::vector<ContentPart> items;
};

// One piece of feedback on a Variable.
struct Gradient {
  std::string text;
  std::string role;                          // "feedback to <role of the variable>"
  std::vector<GradientContext> contexts;     // empty for feedback from sums and manual feedback
  std::vector<std::uint64_t> reduce_groups;  // aggregate groups this feedback belongs to
  // Ids of the nodes whose backward produced this feedback (empty: added by hand). A new
  // backward pass through the same node replaces its earlier feedback instead of adding to it.
  std::vector<std::uint64_t> sources;
  // What happened while producing it: shortening to fit a budget, a joint-feedback section
  // that never came (the text is then empty). For run records; never sent to a model.
  std::vector<std::string> notes;
};

// How feedback is asked for at a node with several inputs that require grad.
enum class BackwardMode {
  // One feedback call per input (TextGrad): each call sees one input.
  kPerEdge,
  // Semantic backpropagation: one call per node sees the task, every input, the output and
  // the downstream feedback, and answers one delimited section per input. A node with a single
  // such input sends exactly the per-edge request. See docs/optimizers.md.
  kJoint,
};

// Token budgets for feedback requests (see textgrad/budget.h; 0 = no limit).
struct FeedbackBudget {
  // The conversation shown in a feedback request (system prompt, input, output).
  int conversation_tokens = 0;
  // The whole request: system prompt and user text.
  int request_tokens = 0;
};

struct BackwardOptions {
  // How many backward LLM calls may be in flight at once.
  int concurrency = 8;
  // Templates to use; null means the built-in ones.
  std::shared_ptr<const Prompts> prompts;
  BackwardMode mode = BackwardMode::kPerEdge;
  FeedbackBudget budget;
  // Sampling of the feedback calls; unset = the engine's defaults.
  std::optional<SamplingParams> sampling;
  // Variables for which this returns true are left out of this pass, with everything reachable
  // only through them: e.g. the losses of items a metric marked correct, so that feedback
  // comes only from failed samples. Called once per Variable, during discovery.
  std::function<bool(const Variable&)> skip;
  // Earlier values of a Variable to show in its feedback requests (REVOLVE's design, off unless
  // set; see Revolve::feedback_history()). Empty = no history section. It may be called on the
  // thread that delivers an engine's answers, so it must not block (a lock held briefly is
  // fine).
  std::function<std::vector<std::string>(const Variable&)> past_values;
};

class Variable {
 public:
  // An empty handle; using it throws InvalidArgument.
  Variable() = default;

  // role_description is required: it tells the feedback and update engines what the text is.
  Variable(std::string value, std::string role_description, bool requires_grad = true);
  Variable(const char* value, std::string role_description, bool requires_grad = true)
      : Variable(std::string(value), std::move(role_description), requires_grad) {}
  // Integers become decimal text, as in the reference.
  template <typename Int>
  requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool> && !std::is_same_v<Int, char>)
      Variable(Int value, std::string role_description, bool requires_grad = true)
      : Variable(std::to_string(value), std::move(role_description), requires_grad) {}
  // Floating-point and boolean values are ambiguous as text: convert them yourself.
  Variable(double, std::string, bool = true) = delete;
  Variable(bool, std::string, bool = true) = delete;

  // An image input (PNG, JPEG, GIF or WebP bytes). Images never require feedback.
  static Variable image(std::string bytes, std::string role_description);
  static Variable image_file(const std::string& path, std::string role_description);

  bool defined() const { return node_ != nullptr; }
  std::uint64_t id() const;

  // The text value; waits while it is pending and rethrows the producing call's error.
  std::string value() const;
  void set_value(std::string value);
  bool ready() const;
  void wait() const;

  bool is_image() const;
  // The image's media type and bytes (InvalidArgument if this is not an image).
  ContentPart image_part() const;

  std::string role_description() const;
  void set_role_description(std::string role_description);

  bool requires_grad() const;
  void set_requires_grad(bool requires_grad);

  std::vector<Variable> predecessors() const;

  // Feedback received, in graph order.
  std::vector<Gradient> gradients() const;
  // The feedback texts joined by newlines.
  std::string gradient_text() const;
  // Adds feedback by hand; backward() from this Variable then runs in chain mode.
  void add_gradient(std::string feedback);
  // Clears feedback, its contexts and aggregate tags.
  void zero_grad();

  // Runs backward from this Variable: every Variable it depends on that requires grad
  // receives feedback. Uses `engine` for every feedback call. Throws BackwardError naming the
  // failing node; the graph stays usable. Feedback requests are sent from this thread, from
  // the library's workers, or from the engine's callback that delivered the answer before
  // them; backward() returns once every one has been answered and its feedback stored.
  void backward(const EnginePtr& engine, const BackwardOptions& options = {}) const;

  // The value abbreviated for prompts: unchanged up to 2*n words, else the first n words,
  // " (...) ", the last n words.
  std::string short_value(int n = 10) const;

  // A one-line description for logs and debugging.
  std::string describe() const;

  friend bool operator==(const Variable& a, const Variable& b) { return a.node_ == b.node_; }

  // Internal: used by the graph functions.
  explicit Variable(std::shared_ptr<detail::Node> node) : node_(std::move(node)) {}
  const std::shared_ptr<detail::Node>& node() const;

 private:
  std::shared_ptr<detail::Node> node_;
};

}  // namespace tg
