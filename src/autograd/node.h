// The graph node behind tg::Variable, and the interface of backward functions.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/variable.h"

namespace tg {
class Prompts;
}

namespace tg::detail {

struct Node;
using NodePtr = std::shared_ptr<Node>;

struct BackwardContext {
  Engine& engine;
  const Prompts& prompts;
  const BackwardOptions& options;
};

// One feedback computation for one or more predecessors of a node (several for a joint
// feedback call or a custom function). `run` returns one entry per target, in order; nothing
// for a target that gets no feedback (e.g. a sum without feedback).
//
// `start`, when set, is the same computation without blocking (Note [Feedback as a
// continuation] in backward.cpp): it reads the targets' values, which must be settled,
// submits its one LLM request and returns; the engine's callback hands `done` the results or
// the error, exactly once, on whatever thread the engine answers on (possibly before start
// returns). Nothing `done` leads to may block. start() itself throws only before it submits.
struct EdgeJob {
  using Results = std::vector<std::optional<Gradient>>;
  using Done = std::function<void(Results, std::exception_ptr)>;
  std::vector<NodePtr> targets;
  std::function<Results()> run;
  std::function<void(Done)> start;
  bool calls_llm = false;
};

// A job for one target.
EdgeJob single_job(NodePtr target, std::function<std::optional<Gradient>()> run, bool calls_llm);

// The backward function of a node, holding what its forward pass captured.
class Function {
 public:
  virtual ~Function() = default;
  virtual std::string name() const = 0;
  // Called once every consumer of `output` has delivered its feedback. Must be thread-safe
  // with respect to other nodes' functions.
  virtual std::vector<EdgeJob> backward(Node& output, const BackwardContext& context) = 0;
  // True when backward() only reads settled values and renders text (its jobs may still call
  // LLMs): it can then run on an engine's completion thread once `output` is settled.
  virtual bool backward_never_blocks() const { return false; }
};

// Note [Pending values]
// A node's value is settled exactly once (value or error) unless it was created ready.
// Continuations registered with on_settled() run on the settling thread, outside the lock,
// which lets an LLM call's completion start the calls that consume its output without any
// thread waiting in between.
struct Node {
  Node(std::string role, bool requires_grad);

  const std::uint64_t id;

  // --- value ---
  void settle(std::string value);
  void fail(std::exception_ptr error);
  void on_settled(std::function<void()> continuation);
  std::string value() const;  // waits; rethrows
  bool ready() const;
  void wait() const;
  void set_value(std::string value);
  std::exception_ptr error() const;

  // --- attributes ---
  std::string role() const;
  void set_role(std::string role);
  bool requires_grad() const;
  void set_requires_grad(bool requires_grad);

  std::optional<ContentPart> image;  // set at creation for image inputs, never changed

  // Set at creation, never changed afterwards.
  std::vector<NodePtr> predecessors;
  std::shared_ptr<Function> grad_fn;

  // --- feedback ---
  std::vector<Gradient> gradients() const;
  // Hands each gradient to `visit` without copying it; `visit` runs under the node's lock and
  // must not use this node.
  void for_each_gradient(const std::function<void(const Gradient&)>& visit) const;
  void set_gradients(std::vector<Gradient> gradients);
  void add_gradient(Gradient gradient);
  // Adds feedback from a backward pass: earlier feedback from the same sources is replaced.
  void merge_gradients(std::vector<Gradient> incoming);
  std::vector<std::uint64_t> reduce_groups() const;
  void add_reduce_groups(const std::vector<std::uint64_t>& groups);
  void zero_grad();

  std::string describe() const;

 private:
  friend NodePtr make_pending_node(std::string role, std::vector<NodePtr> predecessors);
  friend NodePtr make_ready_node(std::string value, std::string role, bool requires_grad);

  enum class State { kReady, kPending, kFailed };
  mutable std::mutex mu_;
  mutable std::condition_variable settled_cv_;
  State state_ = State::kReady;
  std::string value_;
  std::exception_ptr error_;
  std::vector<std::function<void()>> continuations_;
  std::string role_;
  bool requires_grad_;
  std::vector<Gradient> gradients_;
  std::vector<std::uint64_t> reduce_groups_;
};

// A node created with a pending value.
NodePtr make_pending_node(std::string role, std::vector<NodePtr> predecessors);
NodePtr make_ready_node(std::string value, std::string role, bool requires_grad);

// Runs `continuation` once every node in `nodes` has settled (immediately if they all have).
void when_all_settled(const std::vector<NodePtr>& nodes, std::function<void()> continuation);

// Runs `work` once every node in `nodes` has settled: at once on the caller's thread if they
// all have, otherwise on the library's executor (Note [Functions off the I/O thread]).
void run_when_settled(const std::vector<NodePtr>& nodes, std::function<void()> work);

// The first error among settled nodes, if any.
std::exception_ptr first_error(const std::vector<NodePtr>& nodes);

// Joins the non-empty feedback texts with newlines; empty when there is no real feedback.
std::string feedback_text(const std::vector<Gradient>& gradients);

}  // namespace tg::detail
