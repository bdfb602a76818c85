#include "autograd/node.h"

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

#include "util/executor.h"
#include "util/text.h"

namespace tg::detail {
namespace {

std::uint64_t next_node_id() {
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}

bool shares_source(const Gradient& existing, const std::vector<Gradient>& incoming) {
  for (std::uint64_t source : existing.sources) {
    for (const Gradient& g : incoming) {
      if (std::find(g.sources.begin(), g.sources.end(), source) != g.sources.end()) return true;
    }
  }
  return false;
}

}  // namespace

Node::Node(std::string role, bool requires_grad)
    : id(next_node_id()), role_(std::move(role)), requires_grad_(requires_grad) {}

void Node::settle(std::string value) {
  std::vector<std::function<void()>> continuations;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kPending) return;
    value_ = std::move(value);
    state_ = State::kReady;
    continuations.swap(continuations_);
  }
  settled_cv_.notify_all();
  for (auto& continuation : continuations) continuation();
}

void Node::fail(std::exception_ptr error) {
  std::vector<std::function<void()>> continuations;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kPending) return;
    error_ = std::move(error);
    state_ = State::kFailed;
    continuations.swap(continuations_);
  }
  settled_cv_.notify_all();
  for (auto& continuation : continuations) continuation();
}

void Node::on_settled(std::function<void()> continuation) {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kPending) {
      continuations_.push_back(std::move(continuation));
      return;
    }
  }
  continuation();
}

std::string Node::value() const {
  std::unique_lock lock(mu_);
  settled_cv_.wait(lock, [this] { return state_ != State::kPending; });
  if (state_ == State::kFailed) std::rethrow_exception(error_);
  return value_;
}

bool Node::ready() const {
  std::lock_guard lock(mu_);
  return state_ != State::kPending;
}

void Node::wait() const {
  std::unique_lock lock(mu_);
  settled_cv_.wait(lock, [this] { return state_ != State::kPending; });
}

void Node::set_value(std::string value) {
  std::unique_lock lock(mu_);
  // Overwriting a pending value would race with the call that produces it.
  settled_cv_.wait(lock, [this] { return state_ != State::kPending; });
  value_ = std::move(value);
  error_ = nullptr;
  state_ = State::kReady;
}

std::exception_ptr Node::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

std::string Node::role() const {
  std::lock_guard lock(mu_);
  return role_;
}

void Node::set_role(std::string role) {
  std::lock_guard lock(mu_);
  role_ = std::move(role);
}

bool Node::requires_grad() const {
  std::lock_guard lock(mu_);
  return requires_grad_;
}

void Node::set_requires_grad(bool requires_grad) {
  std::lock_guard lock(mu_);
  requires_grad_ = requires_grad;
}

std::vector<Gradient> Node::gradients() const {
  std::lock_guard lock(mu_);
  return gradients_;
}

void Node::for_each_gradient(const std::function<void(const Gradient&)>& visit) const {
  std::lock_guard lock(mu_);
  for (const Gradient& gradient : gradients_) visit(gradient);
}

void Node::set_gradients(std::vector<Gradient> gradients) {
  std::lock_guard lock(mu_);
  gradients_ = std::move(gradients);
}

void Node::add_gradient(Gradient gradient) {
  std::lock_guard lock(mu_);
  gradients_.push_back(std::move(gradient));
}

void Node::merge_gradients(std::vector<Gradient> incoming) {
  std::lock_guard lock(mu_);
  std::erase_if(gradients_, [&](const Gradient& g) { return shares_source(g, incoming); });
  for (Gradient& g : incoming) {
    for (std::uint64_t group : g.reduce_groups) {
      if (std::find(reduce_groups_.begin(), reduce_groups_.end(), group) == reduce_groups_.end()) {
        reduce_groups_.push_back(group);
      }
    }
    gradients_.push_back(std::move(g));
  }
}

std::vector<std::uint64_t> Node::reduce_groups() const {
  std::lock_guard lock(mu_);
  return reduce_groups_;
}

void Node::add_reduce_groups(const std::vector<std::uint64_t>& groups) {
  std::lock_guard lock(mu_);
  for (std::uint64_t group : groups) {
    if (std::find(reduce_groups_.begin(), reduce_groups_.end(), group) == reduce_groups_.end()) {
      reduce_groups_.push_back(group);
    }
  }
}

void Node::zero_grad() {
  std::lock_guard lock(mu_);
  gradients_.clear();
  reduce_groups_.clear();
}

std::string Node::describe() const {
  std::string op = grad_fn ? grad_fn->name() : std::string(image ? "image" : "leaf");
  return fmt::format("{} '{}' (#{})", op, role(), id);
}

NodePtr make_pending_node(std::string role, std::vector<NodePtr> predecessors) {
  auto node = std::make_shared<Node>(std::move(role), /*requires_grad=*/true);
  node->predecessors = std::move(predecessors);
  node->state_ = Node::State::kPending;
  return node;
}

NodePtr make_ready_node(std::string value, std::string role, bool requires_grad) {
  auto node = std::make_shared<Node>(std::move(role), requires_grad);
  node->value_ = std::move(value);
  return node;
}

void when_all_settled(const std::vector<NodePtr>& nodes, std::function<void()> continuation) {
  struct Countdown {
    std::atomic<size_t> remaining;
    std::function<void()> continuation;
  };
  auto countdown = std::make_shared<Countdown>();
  countdown->remaining = nodes.size() + 1;  // +1 so nothing fires before registration ends
  countdown->continuation = std::move(continuation);
  auto arrive = [countdown] {
    if (--countdown->remaining == 0) {
      auto run = std::move(countdown->continuation);
      run();
    }
  };
  for (const NodePtr& node : nodes) node->on_settled(arrive);
  arrive();
}

// Note [Functions off the I/O thread]
// Work that waits for inputs (a string function, a user's custom function) would otherwise run
// on the thread that settles the last input, which for an HTTP engine is the transport's only
// I/O thread: a slow function (running unit tests, say) would stall every request in flight.
// So it runs on the library's executor (Note [One executor]), which starts no thread per call.
// With its inputs ready it runs on the caller's thread. A function its owner declares
// instant (StringBasedFunction::Runs::kInline: the CLI's exact-match metrics) skips the
// executor and the thread switch, and runs where its last input settled.
void run_when_settled(const std::vector<NodePtr>& nodes, std::function<void()> work) {
  const bool ready =
      std::all_of(nodes.begin(), nodes.end(), [](const NodePtr& node) { return node->ready(); });
  if (ready) return work();
  when_all_settled(nodes, [work = std::move(work)] { util::Executor::shared().post(work); });
}

std::exception_ptr first_error(const std::vector<NodePtr>& nodes) {
  for (const NodePtr& node : nodes) {
    if (auto error = node->error()) return error;
  }
  return nullptr;
}

std::string feedback_text(const std::vector<Gradient>& gradients) {
  std::string joined;
  for (const Gradient& g : gradients) {
    if (util::trim(g.text).empty()) continue;
    if (!joined.empty()) joined += '\n';
    joined += g.text;
  }
  return joined;
}

}  // namespace tg::detail

namespace tg::detail {

EdgeJob single_job(NodePtr target, std::function<std::optional<Gradient>()> run, bool calls_llm) {
  EdgeJob job;
  job.targets = {std::move(target)};
  job.run = [run = std::move(run)] { return std::vector<std::optional<Gradient>>{run()}; };
  job.calls_llm = calls_llm;
  return job;
}

}  // namespace tg::detail
