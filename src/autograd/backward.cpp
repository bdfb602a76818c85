// Note [Backward scheduling]
// Backward is a dependency-counting executor, like PyTorch's autograd engine. Discovery walks
// the predecessors of the root that require grad; each node's count is its number of distinct
// consumers inside that graph. A node runs once every consumer has run (whether or not it
// delivered feedback), so all its feedback is present. Running a node means: commit the
// feedback staged for it, merge aggregate groups, then ask its function for one job per
// predecessor; jobs that call an LLM go to the worker pool, whose size bounds the calls in
// flight. Independent branches, samples and predecessors therefore overlap.
//
// Note [Deterministic feedback order]
// Feedback is staged with the key (rank of the producing node, job index), where ranks come
// from the reversed DFS post-order of discovery (the reference's traversal order), and is
// committed sorted by that key. Completion order never shows in prompts.
#include "autograd/backward.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "textgrad/prompts.h"
#include "util/task_group.h"
#include "util/text.h"

namespace tg::detail {
namespace {

bool in_graph(const NodePtr& node) { return node->requires_grad() && !node->image; }

// Reversed DFS post-order from the root over predecessors that require grad.
std::vector<NodePtr> discover(const NodePtr& root) {
  std::vector<NodePtr> post_order;
  std::unordered_set<const Node*> visited{root.get()};
  std::vector<std::pair<NodePtr, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->predecessors.size()) {
      const NodePtr& pred = node->predecessors[next++];
      if (in_graph(pred) && visited.insert(pred.get()).second) stack.emplace_back(pred, 0);
      continue;
    }
    post_order.push_back(node);
    stack.pop_back();
  }
  std::reverse(post_order.begin(), post_order.end());
  return post_order;
}

std::vector<NodePtr> distinct_graph_predecessors(const Node& node) {
  std::vector<NodePtr> out;
  for (const NodePtr& pred : node.predecessors) {
    if (in_graph(pred) && std::find(out.begin(), out.end(), pred) == out.end()) out.push_back(pred);
  }
  return out;
}

class BackwardRun {
 public:
  BackwardRun(Engine& engine, const Prompts& prompts, int concurrency)
      : context_{engine, prompts}, pool_(concurrency) {}

  void run(const NodePtr& root) {
    std::vector<NodePtr> order = discover(root);
    for (size_t rank = 0; rank < order.size(); ++rank) {
      State& state = states_[order[rank].get()];
      state.rank = static_cast<int>(rank);
    }
    for (const NodePtr& node : order) {
      for (const NodePtr& pred : distinct_graph_predecessors(*node)) ++states_[pred.get()].waiting;
    }
    pool_.run([this, root] { process(root); });
    pool_.wait();
    if (error_) rethrow_failure();
  }

 private:
  using Key = std::pair<int, size_t>;
  struct State {
    int rank = 0;
    std::atomic<int> waiting{0};
    std::mutex mu;
    std::vector<std::pair<Key, Gradient>> staged;
  };
  struct Jobs {
    std::vector<EdgeJob> jobs;
    std::vector<std::optional<Gradient>> results;
    std::atomic<size_t> remaining{0};
  };

  void process(const NodePtr& node) {
    if (failed_) return;
    std::vector<EdgeJob> jobs;
    try {
      commit_staged(*node);
      reduce_gradients(*node, context_);
      if (node->grad_fn) jobs = node->grad_fn->backward(*node, context_);
    } catch (...) {
      record_failure(*node, std::current_exception());
      return;
    }
    auto batch = std::make_shared<Jobs>();
    batch->results.resize(jobs.size());
    batch->remaining = jobs.size();
    batch->jobs = std::move(jobs);
    if (batch->jobs.empty()) return finish(node, *batch);
    for (size_t i = 0; i < batch->jobs.size(); ++i) {
      auto task = [this, node, batch, i] { run_job(node, batch, i); };
      if (batch->jobs[i].calls_llm) {
        pool_.run(task);
      } else {
        task();
      }
    }
  }

  void run_job(const NodePtr& node, const std::shared_ptr<Jobs>& batch, size_t i) {
    if (failed_) return;
    try {
      batch->results[i] = batch->jobs[i].run();
    } catch (...) {
      record_failure(*node, std::current_exception());
      return;
    }
    if (--batch->remaining == 0) finish(node, *batch);
  }

  void finish(const NodePtr& node, Jobs& batch) {
    int rank = states_.at(node.get()).rank;
    for (size_t i = 0; i < batch.jobs.size(); ++i) {
      if (!batch.results[i]) continue;
      auto it = states_.find(batch.jobs[i].target.get());
      if (it == states_.end()) continue;  // target outside the graph: nothing to deliver
      std::lock_guard lock(it->second.mu);
      it->second.staged.emplace_back(Key{rank, i}, std::move(*batch.results[i]));
    }
    for (const NodePtr& pred : distinct_graph_predecessors(*node)) {
      if (--states_.at(pred.get()).waiting == 0) pool_.run([this, pred] { process(pred); });
    }
  }

  void commit_staged(Node& node) {
    State& state = states_.at(&node);
    std::vector<std::pair<Key, Gradient>> staged;
    {
      std::lock_guard lock(state.mu);
      staged.swap(state.staged);
    }
    if (staged.empty()) return;
    std::sort(staged.begin(), staged.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Gradient> gradients;
    for (auto& [key, gradient] : staged) gradients.push_back(std::move(gradient));
    node.merge_gradients(std::move(gradients));
  }

  void record_failure(const Node& node, std::exception_ptr error) {
    std::lock_guard lock(error_mu_);
    if (error_) return;
    error_ = std::move(error);
    failed_node_ = node.describe();
    failed_ = true;
  }

  [[noreturn]] void rethrow_failure() {
    std::string what;
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown error";
    }
    try {
      std::rethrow_exception(error_);
    } catch (...) {
      std::throw_with_nested(
          BackwardError(fmt::format("backward failed at {}: {}", failed_node_, what)));
    }
  }

  BackwardContext context_;
  std::unordered_map<const Node*, State> states_;
  std::atomic<bool> failed_{false};
  std::mutex error_mu_;
  std::exception_ptr error_;
  std::string failed_node_;
  util::TaskGroup pool_;  // last: its destructor joins workers before the state goes away
};

}  // namespace

void reduce_gradients(Node& node, const BackwardContext& context) {
  std::vector<Gradient> gradients = node.gradients();
  if (gradients.size() < 2) return;
  std::map<std::uint64_t, std::vector<size_t>> members;  // ordered: deterministic call order
  for (size_t i = 0; i < gradients.size(); ++i) {
    for (std::uint64_t group : gradients[i].reduce_groups) members[group].push_back(i);
  }
  std::vector<bool> merged(gradients.size(), false);
  std::vector<std::optional<Gradient>> summary_at(gradients.size());
  for (const auto& [group, indices] : members) {
    std::vector<size_t> open;
    for (size_t i : indices) {
      if (!merged[i]) open.push_back(i);
    }
    if (open.size() < 2) continue;
    std::vector<std::string> items;
    Gradient summary;
    summary.role = gradients[open.front()].role;
    for (size_t i : open) {
      items.push_back(context.prompts.render("reduce_item", {{"feedback", gradients[i].text}}));
      for (auto& c : gradients[i].contexts) summary.contexts.push_back(c);
      for (auto s : gradients[i].sources) summary.sources.push_back(s);
      merged[i] = true;
    }
    Request request = Request::Text(util::join(items, "\n"), context.prompts.get("reduce_system"),
                                    Phase::kReduce);
    summary.text = context.engine.generate(std::move(request)).text;
    summary_at[open.front()] = std::move(summary);
  }
  if (std::none_of(merged.begin(), merged.end(), [](bool m) { return m; })) return;
  std::vector<Gradient> result;
  for (size_t i = 0; i < gradients.size(); ++i) {
    if (summary_at[i])
      result.push_back(std::move(*summary_at[i]));
    else if (!merged[i])
      result.push_back(std::move(gradients[i]));
  }
  node.set_gradients(std::move(result));
}

void run_backward(const NodePtr& root, Engine& engine, const Prompts& prompts, int concurrency) {
  if (!in_graph(root)) {
    throw InvalidArgument(fmt::format(
        "backward() from {}: it does not require grad, so there is nothing to give feedback to",
        root->describe()));
  }
  BackwardRun(engine, prompts, concurrency).run(root);
}

}  // namespace tg::detail
