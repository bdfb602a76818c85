// Search: GEPA-style evolution of a pool of candidates (Genetic-Pareto reflective search).
//
// TGD follows one line of prompts. tg::Search keeps a pool: each candidate is a map from
// parameter name to text, with its parents and its score on every validation item. Each
// proposal picks a parent (by default from the per-item Pareto front), runs it on a small
// training minibatch, gets textual feedback with the library's backward, asks for a new value
// of one parameter (or all) with the library's update request (TGD's), and keeps the child
// only if it beats its parent on that minibatch; a kept child is then scored on the whole
// validation set. Optionally, two descendants of a common ancestor are merged. See
// docs/search.md for the algorithm, its call arithmetic and how to resume a search.
//
// Note [Search determinism]
// The outcome depends only on the seed, the options, the task and the engines' answers:
// random choices come from SearchRng (SplitMix64, below) drawn in a fixed order on the calling
// thread; evaluations run concurrently but their results are stored by item index and read
// only once all of them are done.
//
// Note [Metric-call budget]
// A metric call is one SearchTask::run(). Before a stage launches its evaluations (parent
// minibatch, child minibatch, merge subsample, validation pass) it reserves all of them; when
// the reservation does not fit, the proposal ends there, nothing is launched, and the search
// stops. So max_metric_calls is never exceeded, however many evaluations are in flight. Token,
// dollar and wall-time limits are checked between proposals (a proposal's token use is not
// known in advance): the search may pass them by at most one proposal.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/optimizer.h"
#include "textgrad/usage.h"
#include "textgrad/variable.h"

namespace tg {

// One candidate: parameter name -> text.
using Candidate = std::map<std::string, std::string>;

// The library's own random numbers for search: SplitMix64, whose whole state is one 64-bit
// word (so it is saved with the search). below(n) is next() % n: slightly biased for huge n,
// exactly reproducible everywhere.
class SearchRng {
 public:
  explicit SearchRng(std::uint64_t seed = 0) : state_(seed) {}
  std::uint64_t next();
  std::size_t below(std::size_t n);  // in [0, n); n must be > 0
  double uniform();                  // in [0, 1)
  std::uint64_t state() const { return state_; }
  void set_state(std::uint64_t state) { state_ = state; }

 private:
  std::uint64_t state_;
};

enum class Split { kTrain, kValidation };

// What one run of the program on one item gives.
struct Rollout {
  double score = 0;  // higher is better; >= SearchOptions::perfect_score counts as solved
  Variable loss;     // where backward starts for this item; undefined = no feedback from it
};

// The program being optimized and its data. Implemented by the user.
class SearchTask {
 public:
  virtual ~SearchTask() = default;
  virtual std::size_t train_size() const = 0;
  virtual std::size_t val_size() const = 0;
  // Runs the program on item `index` of `split` with `parameters`: one Variable per entry of
  // the candidate, holding its text, requiring grad, shared by the runs of one minibatch (so
  // their feedback adds up). Called from several threads at once; the result must depend only
  // on the arguments and the engines' answers. One call is one metric call. An exception
  // ends the search and is rethrown by Search::run().
  virtual Rollout run(const std::map<std::string, Variable>& parameters, Split split,
                      std::size_t index) const = 0;
};

enum class Selection {
  kPareto,         // per-item fronts, dominated candidates removed, sampled by front count
  kBest,           // the best aggregate score (ties: the oldest)
  kEpsilonGreedy,  // a uniformly random candidate with probability epsilon, else the best
};
const char* to_string(Selection selection);
// "pareto", "best" or "epsilon-greedy"; InvalidArgument naming the choices otherwise.
Selection selection_from_string(const std::string& name);

enum class ComponentSelection { kRoundRobin, kAll };

// When to stop; at least one must be set (InvalidArgument otherwise).
struct StopConditions {
  std::optional<std::int64_t> max_metric_calls;  // never exceeded (Note [Metric-call budget])
  std::optional<std::int64_t> max_tokens;        // billed tokens in `ledger`; needs a ledger
  std::optional<double> max_usd;                 // dollars in `ledger`; needs a ledger
  std::optional<double> max_seconds;             // wall time of one run(), by `clock`
  std::optional<int> max_proposals_without_improvement;
  std::string stop_file;  // stop as soon as this file exists (checked between proposals)
};

struct SearchOptions {
  Selection selection = Selection::kPareto;
  double epsilon = 0.1;  // for kEpsilonGreedy
  ComponentSelection components = ComponentSelection::kRoundRobin;
  int minibatch = 3;         // training items per mutation; at most train_size()
  bool skip_perfect = true;  // skip a minibatch the parent already solves
  double perfect_score = 1.0;
  int max_merges = 0;       // merge attempts evaluated; 0 = merge off
  int merge_subsample = 5;  // validation items a merged child is screened on
  std::uint64_t seed = 0;
  int concurrency = 8;  // evaluations at once
  // Role description of each parameter (what the text is); default: "<name> (prompt)".
  std::map<std::string, std::string> roles;
  BackwardOptions backward;  // any backward mode
  TGDOptions update;         // the update request (constraints, tags, budgets, templates)
  StopConditions stop;
  // Where tokens and dollars are read for max_tokens / max_usd (wrap every engine with
  // with_ledger). Null: those limits cannot be used.
  std::shared_ptr<const Ledger> ledger;
  // Seconds on a monotonic clock, for max_seconds; default: std::chrono::steady_clock.
  std::function<double()> clock;
};

struct PoolEntry {
  Candidate candidate;
  std::vector<std::size_t> parents;  // pool indices; empty for the seed, two for a merge
  std::vector<double> val_scores;    // per validation item
  double aggregate = 0;              // mean of val_scores
  int next_component = 0;            // round-robin position for mutations of this candidate
  int proposal = -1;                 // the proposal that created it; -1 for the seed
};

// What one proposal did, accepted or not (the run directory archives these).
struct Proposal {
  enum class Kind { kMutation, kMerge };
  enum class Outcome {
    kAccepted,     // the child joined the pool
    kRejected,     // the child did not beat its parent (or the merge did not match)
    kSkipped,      // the parent solved the minibatch; nothing was asked
    kUnchanged,    // the update request gave no new value
    kOutOfBudget,  // a stage could not reserve its metric calls; the search stops
  };
  int index = 0;
  Kind kind = Kind::kMutation;
  Outcome outcome = Outcome::kRejected;
  std::vector<std::size_t> parents;
  std::optional<std::size_t> ancestor;  // merges
  std::vector<std::string> changed;     // parameters the child changed
  std::vector<std::size_t> items;       // minibatch (train) or subsample (validation) ids
  std::vector<double> parent_scores;    // on `items` (merges: the better parent's)
  std::vector<double> child_scores;
  std::map<std::string, std::string> feedback;  // per changed parameter
  Candidate child;
  std::optional<std::size_t> child_index;  // in the pool, when accepted
  double child_aggregate = 0;              // when accepted
  std::int64_t metric_calls = 0;           // spent by this proposal
};
const char* to_string(Proposal::Kind kind);
const char* to_string(Proposal::Outcome outcome);

// --- Pool algorithms, exposed for tests and for users' own drivers ---

// For each validation item, the candidates with the highest score on it.
std::vector<std::set<std::size_t>> pareto_fronts(const std::vector<PoolEntry>& pool);
// The candidates left after removing dominated ones one at a time (lowest aggregate first): a
// candidate is dominated when every front holding it also holds another candidate still in
// play. Maps each survivor to the number of fronts it is on.
std::map<std::size_t, int> non_dominated(const std::vector<PoolEntry>& pool);
// A parent drawn by `selection`; pool must not be empty.
std::size_t select_parent(const std::vector<PoolEntry>& pool, Selection selection, double epsilon,
                          SearchRng& rng);
// The highest aggregate; ties go to the oldest candidate. pool must not be empty.
std::size_t best_candidate(const std::vector<PoolEntry>& pool);
// The pool saved in a Search::state() text, without a Search (e.g. to report on a search that
// has ended). InvalidArgument for other text.
std::vector<PoolEntry> pool_from_state(const std::string& state);
// Every ancestor of `index` (not itself).
std::set<std::size_t> ancestors(const std::vector<PoolEntry>& pool, std::size_t index);

struct MergePlan {
  std::size_t first = 0, second = 0, ancestor = 0;
  Candidate child;
  std::vector<std::string> changed;  // parameters whose text differs from the ancestor's
};
// Up to 10 draws of two distinct non-dominated candidates, neither an ancestor of the other,
// with a common ancestor that scores no higher than either, was not tried with them before
// (`tried`, as sorted-pair + ancestor triples), and differs from exactly one side in some
// parameter. Per parameter the child takes the side that changed it, or the better parent's
// text where both did (random on a tie). Children already in the pool are skipped. Marks the
// chosen triple in `tried`.
std::optional<MergePlan> plan_merge(const std::vector<PoolEntry>& pool,
                                    std::set<std::vector<std::size_t>>& tried, SearchRng& rng);
// Up to `k` validation ids, stratified: ids where `a` scores higher, where `b` does, and ties,
// about ceil(k/3) of each in random order, topped up at random. Sorted.
std::vector<std::size_t> merge_subsample(const PoolEntry& a, const PoolEntry& b, int k,
                                         SearchRng& rng);

// The search driver.
//
// Thread safety: one run() at a time; state() and pool() between runs or from on_proposal.
// on_proposal is called on run()'s thread after each proposal with the proposal and the
// state after it; it may write files but must not call run(). An exception from it ends run().
class Search {
 public:
  // `engine` answers the feedback and update requests (the task uses its own engines).
  // InvalidArgument for: no stop condition, a minibatch < 1 or larger than the training set,
  // an empty validation set, a seed without parameters, max_tokens / max_usd without a ledger,
  // max_metric_calls smaller than one validation pass, epsilon outside [0, 1].
  Search(std::shared_ptr<const SearchTask> task, Candidate seed, EnginePtr engine,
         SearchOptions options);

  // Scores the seed on the validation set (unless the pool already has it, e.g. after
  // load_state), then makes proposals until a stop condition holds. Returns the index of the
  // best candidate. Errors from the task or the engines end it and are rethrown; the state
  // passed to on_proposal before the failing proposal resumes the search.
  std::size_t run();

  const std::vector<PoolEntry>& pool() const { return pool_; }
  // Highest aggregate; ties go to the oldest candidate.
  std::size_t best() const;
  int proposals() const { return proposals_; }
  std::int64_t metric_calls() const { return metric_calls_; }

  // The pool, the sampler position, the RNG and the counters, as JSON text. load_state on a
  // Search built with the same task and options continues exactly where this one was: the
  // final pool is the same as if it had never stopped. InvalidArgument for other text.
  std::string state() const;
  void load_state(const std::string& state);

  std::function<void(const Proposal&, const std::string& state)> on_proposal;

 private:
  std::optional<std::string> stop_reason(double started) const;
  std::vector<Rollout> evaluate(const Candidate& candidate, Split split,
                                const std::vector<std::size_t>& items,
                                std::map<std::string, Variable>* parameters = nullptr);
  bool reserve(std::size_t calls, Proposal& proposal);
  std::vector<std::size_t> next_minibatch();
  std::vector<std::string> components_to_change(PoolEntry& parent);
  std::size_t add_to_pool(Candidate candidate, std::vector<std::size_t> parents,
                          const std::vector<Rollout>& val, int proposal);
  void validate_and_add(Proposal& proposal, std::vector<std::size_t> parents);
  Proposal mutate(int index);
  std::optional<Proposal> merge(int index);
  void finish(const Proposal& proposal);

  std::shared_ptr<const SearchTask> task_;
  Candidate seed_;
  EnginePtr engine_;
  SearchOptions options_;
  std::vector<PoolEntry> pool_;
  SearchRng rng_;
  std::vector<std::size_t> order_;  // the current epoch's shuffled training ids
  std::size_t position_ = 0;        // next id in order_
  int proposals_ = 0;
  std::int64_t metric_calls_ = 0;
  int since_improvement_ = 0;
  int merges_done_ = 0;
  int merges_due_ = 0;
  std::set<std::vector<std::size_t>> tried_merges_;
  bool out_of_budget_ = false;
};

}  // namespace tg
