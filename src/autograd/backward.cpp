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
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "textgrad/prompts.h"
#include "util/task_group.h"
#include "util/text.h"

namespace tg::detail {
namespace {

// Whether reduce_gradients() may have feedback to merge: two pieces or more, one of them in an
// aggregate group. Looks without copying the feedback, which carries its whole conversation.
bool may_reduce(const Node& node) {
  int count = 0;
  bool grouped = false;
  node.for_each_gradient([&](const Gradient& g) {
    ++count;
    grouped = grouped || !g.reduce_groups.empty();
  });
  return count >= 2 && grouped;
}

// Note [Edges snapshot at discovery]
// Whether a node belongs to the pass (requires grad, not an image, not skipped) is decided
// once, when discovery first meets it, and each node's edges to its members are recorded
// then. Scheduling uses only that snapshot, as PyTorch's engine does, so toggling
// requires_grad (or anything else) while a backward runs cannot unbalance the dependency
// counts or make the executor look up a node it never discovered.
class Discovery {
 public:
  explicit Discovery(const BackwardOptions& options) : options_(options) {}

  bool member(const NodePtr& node) {
    auto [it, inserted] = member_.try_emplace(node.get(), false);
    if (inserted) {
      it->second = node->requires_grad() && !node->image &&
                   !(options_.skip && options_.skip(Variable(node)));
    }
    return it->second;
  }

  // Reversed DFS post-order from the root over member predecessors, and each node's distinct
  // member predecessors.
  std::vector<std::pair<NodePtr, std::vector<NodePtr>>> run(const NodePtr& root) {
    std::vector<std::pair<NodePtr, std::vector<NodePtr>>> post_order;
    std::unordered_set<const Node*> visited{root.get()};
    struct Frame {
      NodePtr node;
      size_t next = 0;
      std::vector<NodePtr> edges;
    };
    std::vector<Frame> stack{{root, 0, {}}};
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (frame.next < frame.node->predecessors.size()) {
        NodePtr pred = frame.node->predecessors[frame.next++];
        if (!member(pred)) continue;
        if (std::find(frame.edges.begin(), frame.edges.end(), pred) == frame.edges.end()) {
          frame.edges.push_back(pred);
        }
        if (visited.insert(pred.get()).second) stack.push_back({pred, 0, {}});
        continue;
      }
      post_order.emplace_back(std::move(frame.node), std::move(frame.edges));
      stack.pop_back();
    }
    std::reverse(post_order.begin(), post_order.end());
    return post_order;
  }

 private:
  const BackwardOptions& options_;
  std::unordered_map<const Node*, bool> member_;
};

// Note [Feedback as a continuation]
// A feedback job that blocked in Engine::generate() cost a thread switch to send its request
// and another to deliver the answer to the blocked thread, on top of the transport's own. A
// job with a non-blocking form (EdgeJob::start) is instead submitted, and its answer carries
// the pass on from the engine's callback: the job's result is staged there, and the nodes it
// makes ready are processed there too when that cannot block: the node is settled, its
// function's backward() only renders text, and it has no aggregate group to reduce (a reduce
// makes a blocking LLM call). Anything else, and every job without a non-blocking form, goes
// to the task group. Nothing on that path waits, so the engine's thread is never held.
// BackwardOptions::concurrency bounds the submitted jobs in flight as it bounds the group.
class BackwardRun {
 public:
  BackwardRun(Engine& engine, const Prompts& prompts, const BackwardOptions& options)
      : context_{engine, prompts, options},
        max_in_flight_(std::max(1, options.concurrency)),
        pool_(options.concurrency) {}

  void run(const NodePtr& root, std::vector<std::pair<NodePtr, std::vector<NodePtr>>> order) {
    for (size_t rank = 0; rank < order.size(); ++rank) {
      State& state = states_[order[rank].first.get()];
      state.rank = static_cast<int>(rank);
      state.edges = std::move(order[rank].second);
    }
    for (auto& [node, state] : states_) {
      for (const NodePtr& pred : state.edges) ++states_.at(pred.get()).waiting;
    }
    process(root, /*may_wait_here=*/true);
    wait_until_done();
    if (error_) rethrow_failure();
  }

 private:
  using Key = std::tuple<int, size_t, size_t>;  // producer rank, job, target within the job
  struct State {
    int rank = 0;
    std::vector<NodePtr> edges;  // Note [Edges snapshot at discovery]
    std::atomic<int> waiting{0};
    std::mutex mu;
    std::vector<std::pair<Key, Gradient>> staged;
  };
  struct Jobs {
    std::vector<EdgeJob> jobs;
    std::vector<EdgeJob::Results> results;
    std::atomic<size_t> remaining{0};
  };
  struct Submitted {
    NodePtr node;
    std::shared_ptr<Jobs> batch;
    size_t index = 0;
  };

  // Set while this thread runs an engine's callback: nothing may block (Note [Feedback as a
  // continuation]).
  static thread_local int in_callback_;
  struct CallbackScope {
    CallbackScope() { ++in_callback_; }
    ~CallbackScope() { --in_callback_; }
  };

  // Runs the node on this thread when that cannot block, or when this thread may wait and is
  // not an engine's callback (Note [Continue on this thread]); otherwise posts it.
  void process(const NodePtr& node, bool may_wait_here) {
    if (failed_) return;
    try {
      commit_staged(*node);
    } catch (...) {
      return record_failure(*node, std::current_exception());
    }
    if (!node->ready()) return continue_when_settled(node);
    dispatch(node, may_wait_here);
  }

  void dispatch(const NodePtr& node, bool may_wait_here) {
    auto task = [this, node] { expand(node); };
    if (may_block(*node) && (in_callback_ > 0 || !may_wait_here)) return post(std::move(task));
    continue_here(std::move(task));
  }

  static bool may_block(const Node& node) {
    if (node.grad_fn && !node.grad_fn->backward_never_blocks()) return true;
    return may_reduce(node);  // a merge is an LLM call
  }

  // Note [Waiting for the forward pass]
  // backward() may start while the forward pass is still answering: a node's feedback needs
  // its value. A node whose value is pending is taken up by the thread that settles it (an
  // engine's callback, as in Note [Feedback as a continuation]) instead of a worker of the
  // group that would wait for the value: that wait cost a worker's wake-up, its sleep and its
  // second wake-up, three times a step of a prompt-optimization run. Until then the node
  // counts as an unanswered job, so the run does not end before it.
  void continue_when_settled(const NodePtr& node) {
    {
      std::lock_guard lock(flight_mu_);
      ++unanswered_;
    }
    node->on_settled([this, node] {
      {
        CallbackScope scope;
        if (!failed_) dispatch(node, /*may_wait_here=*/false);
      }
      std::lock_guard lock(flight_mu_);
      if (--unanswered_ == 0) all_answered_.notify_all();
    });
  }

  // Reduces the node's feedback, asks its function for jobs and runs or submits them.
  void expand(const NodePtr& node) {
    if (failed_) return;
    std::vector<EdgeJob> jobs;
    try {
      reduce_gradients(*node, context_);
      if (node->grad_fn) jobs = node->grad_fn->backward(*node, context_);
    } catch (...) {
      return record_failure(*node, std::current_exception());
    }
    auto batch = std::make_shared<Jobs>();
    batch->results.resize(jobs.size());
    batch->remaining = jobs.size();
    batch->jobs = std::move(jobs);
    if (batch->jobs.empty()) return finish(node, *batch);
    std::function<void()> last_llm_job;  // Note [Continue on this thread]
    for (size_t i = 0; i < batch->jobs.size(); ++i) {
      const EdgeJob& job = batch->jobs[i];
      if (job.start && targets_settled(job)) {
        submit({node, batch, i});
        continue;
      }
      auto task = [this, node, batch, i] { run_job(node, batch, i); };
      if (!job.calls_llm) {
        task();
        continue;
      }
      if (in_callback_ > 0) {
        post(std::move(task));
        continue;
      }
      if (last_llm_job) post(std::move(last_llm_job));
      last_llm_job = std::move(task);
    }
    if (last_llm_job) continue_here(std::move(last_llm_job));
  }

  static bool targets_settled(const EdgeJob& job) {
    return std::all_of(job.targets.begin(), job.targets.end(),
                       [](const NodePtr& target) { return target->ready(); });
  }

  // Note [Continue on this thread]
  // A node's last LLM job, and the last predecessor a node makes ready, run on the thread
  // that got there instead of being queued: that thread's task ends right after, so queueing
  // would put it to sleep and wake another to do the same work (two thread switches a call
  // on training steps). It takes no extra slot of the group's concurrency, which counts this
  // thread already. Other ready predecessors run here too when they cannot block (their jobs
  // are submitted, Note [Feedback as a continuation]): waking a worker would cost more than
  // they do. Nesting is capped so a long chain of nodes cannot exhaust the stack.
  void continue_here(std::function<void()> task) {
    static constexpr int kMaxDepth = 32;
    thread_local int depth = 0;
    if (depth >= kMaxDepth) return post(std::move(task));
    ++depth;
    task();  // never throws: process() and run_job() record their failures
    --depth;
  }

  void post(std::function<void()> task) {
    ++posted_;
    pool_.run(std::move(task));
  }

  void run_job(const NodePtr& node, const std::shared_ptr<Jobs>& batch, size_t i) {
    if (failed_) return;
    try {
      store_results(*node, *batch, i, batch->jobs[i].run());
    } catch (...) {
      return record_failure(*node, std::current_exception());
    }
    if (--batch->remaining == 0) finish(node, *batch);
  }

  void store_results(const Node& node, Jobs& batch, size_t i, EdgeJob::Results results) {
    if (results.size() != batch.jobs[i].targets.size()) {
      throw std::logic_error(fmt::format("a backward job of {} returned {} results for {} targets",
                                         node.describe(), results.size(),
                                         batch.jobs[i].targets.size()));
    }
    batch.results[i] = std::move(results);
  }

  // Starts the job now, or once fewer than max_in_flight_ are in flight.
  void submit(Submitted job) {
    {
      std::lock_guard lock(flight_mu_);
      ++unanswered_;
      if (in_flight_ >= max_in_flight_) return waiting_jobs_.push_back(std::move(job));
      ++in_flight_;
    }
    send(std::move(job));
  }

  void send(Submitted job) {
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto on_answer = [this, job, answered](EdgeJob::Results results, std::exception_ptr error) {
      if (!answered->exchange(true)) answer(job, std::move(results), std::move(error));
    };
    try {
      if (failed_) throw std::runtime_error("backward stopped");  // not recorded: one is
      job.batch->jobs[job.index].start(on_answer);
    } catch (...) {
      on_answer({}, std::current_exception());
    }
  }

  void answer(const Submitted& job, EdgeJob::Results results, std::exception_ptr error) {
    // The slot goes to a waiting job, or is free before the jobs this answer leads to are
    // submitted: an engine that answers inside submit() then nests no deeper than
    // continue_here() allows.
    std::optional<Submitted> next;
    {
      std::lock_guard lock(flight_mu_);
      if (waiting_jobs_.empty()) {
        --in_flight_;
      } else {
        next = std::move(waiting_jobs_.front());
        waiting_jobs_.pop_front();
      }
    }
    {
      CallbackScope scope;
      try {
        if (error) std::rethrow_exception(error);
        store_results(*job.node, *job.batch, job.index, std::move(results));
        if (--job.batch->remaining == 0) finish(job.node, *job.batch);
      } catch (...) {
        record_failure(*job.node, std::current_exception());
      }
      if (next) send(std::move(*next));
    }
    std::lock_guard lock(flight_mu_);
    if (--unanswered_ == 0) all_answered_.notify_all();
  }

  // The group's tasks may submit jobs, and answers may post tasks: done when neither has
  // anything left and no task was posted while looking.
  void wait_until_done() {
    for (;;) {
      const std::uint64_t posted = posted_;
      pool_.wait();
      std::unique_lock lock(flight_mu_);
      all_answered_.wait(lock, [this] { return unanswered_ == 0; });
      if (posted_ == posted) return;
    }
  }

  void finish(const NodePtr& node, Jobs& batch) {
    const State& self = states_.at(node.get());
    for (size_t i = 0; i < batch.jobs.size(); ++i) {
      for (size_t t = 0; t < batch.jobs[i].targets.size(); ++t) {
        std::optional<Gradient>& result = batch.results[i][t];
        if (!result) continue;
        auto it = states_.find(batch.jobs[i].targets[t].get());
        if (it == states_.end()) continue;  // target outside the graph: nothing to deliver
        std::lock_guard lock(it->second.mu);
        it->second.staged.emplace_back(Key{self.rank, i, t}, std::move(*result));
      }
    }
    std::vector<NodePtr> ready;
    for (const NodePtr& pred : self.edges) {
      if (--states_.at(pred.get()).waiting == 0) ready.push_back(pred);
    }
    for (size_t i = 0; i < ready.size(); ++i) process(ready[i], i + 1 == ready.size());
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
  const int max_in_flight_;
  std::mutex flight_mu_;
  std::condition_variable all_answered_;
  int in_flight_ = 0;   // submitted jobs whose answer has not come
  int unanswered_ = 0;  // those and the ones waiting for room
  std::deque<Submitted> waiting_jobs_;
  std::atomic<std::uint64_t> posted_{0};
  util::TaskGroup pool_;  // last: its destructor joins workers before the state goes away
};

thread_local int BackwardRun::in_callback_ = 0;

}  // namespace

void reduce_gradients(Node& node, const BackwardContext& context) {
  if (!may_reduce(node)) return;
  std::vector<Gradient> gradients = node.gradients();
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
    request.sampling = context.options.sampling;
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

void run_backward(const NodePtr& root, Engine& engine, const Prompts& prompts,
                  const BackwardOptions& options) {
  Discovery discovery(options);
  if (!discovery.member(root)) {
    throw InvalidArgument(fmt::format(
        "backward() from {}: it does not require grad (or is skipped), so there is nothing to "
        "give feedback to",
        root->describe()));
  }
  BackwardRun(engine, prompts, options).run(root, discovery.run(root));
}

}  // namespace tg::detail
