// The search driver: proposals (reflective mutation, merge), evaluation, budgets and stops.
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <numeric>

#include "textgrad/errors.h"
#include "textgrad/functions.h"
#include "textgrad/search.h"
#include "util/task_group.h"

namespace tg {

const char* to_string(Proposal::Kind kind) {
  return kind == Proposal::Kind::kMerge ? "merge" : "mutation";
}

const char* to_string(Proposal::Outcome outcome) {
  switch (outcome) {
    case Proposal::Outcome::kAccepted:
      return "accepted";
    case Proposal::Outcome::kRejected:
      return "rejected";
    case Proposal::Outcome::kSkipped:
      return "skipped";
    case Proposal::Outcome::kUnchanged:
      return "unchanged";
    case Proposal::Outcome::kOutOfBudget:
      return "out-of-budget";
  }
  return "?";
}

namespace {

void check(bool ok, const std::string& message) {
  if (!ok) throw InvalidArgument(message);
}

void validate(const SearchTask& task, const Candidate& seed, const SearchOptions& o) {
  const StopConditions& s = o.stop;
  check(s.max_metric_calls || s.max_tokens || s.max_usd || s.max_seconds ||
            s.max_proposals_without_improvement || !s.stop_file.empty(),
        "search: no stop condition; set at least one of max_metric_calls, max_tokens, max_usd, "
        "max_seconds, max_proposals_without_improvement or stop_file");
  check(!seed.empty(), "search: the seed candidate has no parameters");
  check(task.val_size() > 0, "search: the validation set is empty");
  check(o.minibatch >= 1, "search: minibatch must be at least 1");
  check(static_cast<std::size_t>(o.minibatch) <= task.train_size(),
        "search: minibatch " + std::to_string(o.minibatch) + " is larger than the training set (" +
            std::to_string(task.train_size()) + " items); use a smaller --minibatch");
  check(o.epsilon >= 0 && o.epsilon <= 1, "search: epsilon must be in [0, 1]");
  check(o.max_merges >= 0 && o.merge_subsample >= 1,
        "search: max_merges must be >= 0 and merge_subsample >= 1");
  check((!s.max_tokens && !s.max_usd) || o.ledger,
        "search: max_tokens and max_usd need a ledger (SearchOptions::ledger)");
  check(!s.max_metric_calls || *s.max_metric_calls >= static_cast<std::int64_t>(task.val_size()),
        "search: max_metric_calls " + std::to_string(s.max_metric_calls.value_or(0)) +
            " is smaller than one validation pass (" + std::to_string(task.val_size()) +
            " calls); raise it");
}

double total(const std::vector<Rollout>& rollouts) {
  return std::accumulate(rollouts.begin(), rollouts.end(), 0.0,
                         [](double sum, const Rollout& r) { return sum + r.score; });
}

std::vector<double> scores(const std::vector<Rollout>& rollouts) {
  std::vector<double> out;
  for (const Rollout& r : rollouts) out.push_back(r.score);
  return out;
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Search::Search(std::shared_ptr<const SearchTask> task, Candidate seed, EnginePtr engine,
               SearchOptions options)
    : task_(std::move(task)),
      seed_(std::move(seed)),
      engine_(std::move(engine)),
      options_(std::move(options)),
      rng_(options_.seed) {
  check(task_ != nullptr, "search: no task");
  check(engine_ != nullptr, "search: no engine for feedback and updates");
  validate(*task_, seed_, options_);
  if (!options_.clock) options_.clock = steady_seconds;
}

std::size_t Search::best() const { return best_candidate(pool_); }

std::optional<std::string> Search::stop_reason(double started) const {
  const StopConditions& s = options_.stop;
  if (out_of_budget_) return "metric-call budget";
  // A mutation needs at least two minibatch passes.
  if (s.max_metric_calls && metric_calls_ + 2 * options_.minibatch > *s.max_metric_calls)
    return "metric-call budget";
  if (s.max_tokens) {
    const Usage u = options_.ledger->total().usage;
    if (u.input_tokens + u.output_tokens >= *s.max_tokens) return "token budget";
  }
  if (s.max_usd && options_.ledger->total().cost_usd >= *s.max_usd) return "dollar budget";
  if (s.max_seconds && options_.clock() - started >= *s.max_seconds) return "wall time";
  if (s.max_proposals_without_improvement &&
      since_improvement_ >= *s.max_proposals_without_improvement)
    return "no improvement";
  if (!s.stop_file.empty() && std::filesystem::exists(s.stop_file)) return "stop file";
  return std::nullopt;
}

bool Search::reserve(std::size_t calls, Proposal& proposal) {
  const auto& limit = options_.stop.max_metric_calls;
  if (limit && metric_calls_ + static_cast<std::int64_t>(calls) > *limit) {
    proposal.outcome = Proposal::Outcome::kOutOfBudget;
    out_of_budget_ = true;
    return false;
  }
  metric_calls_ += static_cast<std::int64_t>(calls);
  proposal.metric_calls += static_cast<std::int64_t>(calls);
  return true;
}

std::vector<Rollout> Search::evaluate(const Candidate& candidate, Split split,
                                      const std::vector<std::size_t>& items,
                                      std::map<std::string, Variable>* parameters) {
  std::map<std::string, Variable> vars;
  for (const auto& [name, text] : candidate) {
    auto role = options_.roles.find(name);
    vars.emplace(name,
                 Variable(text, role != options_.roles.end() ? role->second : name + " (prompt)"));
  }
  std::vector<Rollout> out(items.size());
  std::vector<std::exception_ptr> errors(items.size());
  {
    util::TaskGroup group(options_.concurrency);
    for (std::size_t n = 0; n < items.size(); ++n) {
      group.run([&, n] {
        try {
          out[n] = task_->run(vars, split, items[n]);
        } catch (...) {
          errors[n] = std::current_exception();
        }
      });
    }
    group.wait();
  }
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  if (parameters) *parameters = std::move(vars);
  return out;
}

std::vector<std::size_t> Search::next_minibatch() {
  const std::size_t size = static_cast<std::size_t>(options_.minibatch);
  if (order_.empty() || position_ + size > order_.size()) {  // a new epoch, freshly shuffled
    order_.resize(task_->train_size());
    std::iota(order_.begin(), order_.end(), 0);
    for (std::size_t n = order_.size(); n > 1; --n) std::swap(order_[n - 1], order_[rng_.below(n)]);
    position_ = 0;
  }
  std::vector<std::size_t> batch(order_.begin() + static_cast<long>(position_),
                                 order_.begin() + static_cast<long>(position_ + size));
  position_ += size;
  return batch;
}

std::vector<std::string> Search::components_to_change(PoolEntry& parent) {
  std::vector<std::string> names;
  for (const auto& [name, text] : parent.candidate) names.push_back(name);
  if (options_.components == ComponentSelection::kAll) return names;
  const std::size_t pick = static_cast<std::size_t>(parent.next_component) % names.size();
  parent.next_component = static_cast<int>((pick + 1) % names.size());
  return {names[pick]};
}

std::size_t Search::add_to_pool(Candidate candidate, std::vector<std::size_t> parents,
                                const std::vector<Rollout>& val, int proposal) {
  PoolEntry entry;
  entry.candidate = std::move(candidate);
  entry.parents = std::move(parents);
  entry.val_scores = scores(val);
  entry.aggregate = total(val) / static_cast<double>(val.size());
  entry.proposal = proposal;
  pool_.push_back(std::move(entry));
  return pool_.size() - 1;
}

void Search::validate_and_add(Proposal& proposal, std::vector<std::size_t> parents) {
  std::vector<std::size_t> all(task_->val_size());
  std::iota(all.begin(), all.end(), 0);
  if (!reserve(all.size(), proposal)) return;
  const auto val = evaluate(proposal.child, Split::kValidation, all);
  proposal.child_index = add_to_pool(proposal.child, std::move(parents), val, proposal.index);
  proposal.child_aggregate = pool_.back().aggregate;
  proposal.outcome = Proposal::Outcome::kAccepted;
  if (options_.max_merges > 0 && merges_done_ + merges_due_ < options_.max_merges) ++merges_due_;
}

Proposal Search::mutate(int index) {
  Proposal p;
  p.index = index;
  const std::size_t parent = select_parent(pool_, options_.selection, options_.epsilon, rng_);
  p.parents = {parent};
  p.changed = components_to_change(pool_[parent]);
  p.items = next_minibatch();
  p.child = pool_[parent].candidate;
  if (!reserve(p.items.size(), p)) return p;
  std::map<std::string, Variable> params;
  const auto before = evaluate(p.child, Split::kTrain, p.items, &params);
  p.parent_scores = scores(before);
  const bool solved = std::all_of(before.begin(), before.end(), [&](const Rollout& r) {
    return r.score >= options_.perfect_score;
  });
  if (options_.skip_perfect && solved) {
    p.outcome = Proposal::Outcome::kSkipped;
    return p;
  }
  std::vector<Variable> losses;
  for (const Rollout& r : before) {
    if (r.loss.defined()) losses.push_back(r.loss);
  }
  if (!losses.empty()) sum(losses).backward(engine_, options_.backward);
  std::vector<Variable> targets;
  for (const std::string& name : p.changed) {
    p.feedback[name] = params.at(name).gradient_text();
    targets.push_back(params.at(name));
  }
  TGD(targets, engine_, options_.update).step();
  for (const std::string& name : p.changed) p.child[name] = params.at(name).value();
  if (p.child == pool_[parent].candidate) {
    p.outcome = Proposal::Outcome::kUnchanged;
    return p;
  }
  if (!reserve(p.items.size(), p)) return p;
  const auto after = evaluate(p.child, Split::kTrain, p.items);
  p.child_scores = scores(after);
  if (total(after) <= total(before)) {
    p.outcome = Proposal::Outcome::kRejected;
    return p;
  }
  validate_and_add(p, {parent});
  return p;
}

std::optional<Proposal> Search::merge(int index) {
  auto plan = plan_merge(pool_, tried_merges_, rng_);
  if (!plan) return std::nullopt;
  --merges_due_;
  ++merges_done_;
  Proposal p;
  p.index = index;
  p.kind = Proposal::Kind::kMerge;
  p.parents = {plan->first, plan->second};
  p.ancestor = plan->ancestor;
  p.changed = plan->changed;
  p.child = plan->child;
  const PoolEntry &a = pool_[plan->first], &b = pool_[plan->second];
  p.items = merge_subsample(a, b, options_.merge_subsample, rng_);
  if (!reserve(p.items.size(), p)) return p;
  const auto child = evaluate(p.child, Split::kValidation, p.items);
  p.child_scores = scores(child);
  double best_sum = -INFINITY;
  for (const PoolEntry* e : {&a, &b}) {
    std::vector<double> s;
    for (std::size_t id : p.items) s.push_back(e->val_scores[id]);
    const double sum = std::accumulate(s.begin(), s.end(), 0.0);
    if (sum > best_sum) best_sum = sum, p.parent_scores = s;
  }
  if (total(child) < best_sum) {
    p.outcome = Proposal::Outcome::kRejected;
    return p;
  }
  validate_and_add(p, {plan->first, plan->second});
  return p;
}

void Search::finish(const Proposal& proposal) {
  ++proposals_;
  // best() breaks ties towards the oldest, so the child is best only if strictly better.
  const bool improved = proposal.child_index && *proposal.child_index == best();
  since_improvement_ = improved ? 0 : since_improvement_ + 1;
  if (on_proposal) on_proposal(proposal, state());
}

std::size_t Search::run() {
  const double started = options_.clock();
  if (pool_.empty()) {
    std::vector<std::size_t> all(task_->val_size());
    std::iota(all.begin(), all.end(), 0);
    metric_calls_ += static_cast<std::int64_t>(all.size());  // fits: checked in validate()
    add_to_pool(seed_, {}, evaluate(seed_, Split::kValidation, all), -1);
  }
  while (!stop_reason(started)) {
    std::optional<Proposal> p;
    if (merges_due_ > 0) {
      p = merge(proposals_);
      if (!p) merges_due_ = 0;  // no pair to merge now; wait for the next new candidate
    }
    if (!p) p = mutate(proposals_);
    finish(*p);
  }
  return best();
}

}  // namespace tg
