// tg::Search: pool algorithms on constructed pools, call arithmetic, determinism, the
// metric-call budget, resuming, and bad input. End-to-end searches run on the simulated
// counting task (bench/simulated_task.h) with a scripted engine.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../bench/simulated_search.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

PoolEntry entry(std::vector<double> scores, Candidate candidate = {{"p", "x"}},
                std::vector<std::size_t> parents = {}) {
  PoolEntry e;
  e.candidate = std::move(candidate);
  e.parents = std::move(parents);
  e.val_scores = std::move(scores);
  double sum = 0;
  for (double s : e.val_scores) sum += s;
  e.aggregate = sum / static_cast<double>(e.val_scores.size());
  return e;
}

TEST(SearchRng, IsSplitMix64) {
  SearchRng rng(0);  // the published SplitMix64 sequence for seed 0
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(rng.next(), 0x06c45d188009454full);
}

TEST(ParetoSelection, DominatedCandidatesAreRemovedOneAtATime) {
  // Fronts: item 0 {0, 1}, item 1 {1, 3}, item 2 {2, 3}. 0 is covered by 1 and 2 by 3; once
  // they are gone, 1 and 3 each hold a front alone.
  std::vector<PoolEntry> pool = {entry({1, 0, 0}), entry({1, 1, 0}), entry({0, 0, 1}),
                                 entry({0, 1, 1})};
  auto fronts = pareto_fronts(pool);
  EXPECT_EQ(fronts[0], (std::set<std::size_t>{0, 1}));
  EXPECT_EQ(fronts[1], (std::set<std::size_t>{1, 3}));
  EXPECT_EQ(fronts[2], (std::set<std::size_t>{2, 3}));
  EXPECT_EQ(non_dominated(pool), (std::map<std::size_t, int>{{1, 2}, {3, 2}}));
  // Tickets [1, 1, 3, 3]; SplitMix64(0) first draws 0x...af, and 0xaf % 4 == 3 -> candidate 3.
  SearchRng rng(0);
  EXPECT_EQ(select_parent(pool, Selection::kPareto, 0, rng), 3u);
}

TEST(ParetoSelection, TiesKeepOneAndSingleCandidateSurvives) {
  // Two identical candidates: the first in ascending order is removed, the other holds all.
  std::vector<PoolEntry> twins = {entry({1, 0.5}), entry({1, 0.5})};
  EXPECT_EQ(non_dominated(twins), (std::map<std::size_t, int>{{1, 2}}));
  std::vector<PoolEntry> one = {entry({0, 0, 0})};
  EXPECT_EQ(non_dominated(one), (std::map<std::size_t, int>{{0, 3}}));
  SearchRng rng(7);
  EXPECT_EQ(select_parent(one, Selection::kPareto, 0, rng), 0u);
  EXPECT_EQ(select_parent(one, Selection::kEpsilonGreedy, 1, rng), 0u);
}

TEST(ParetoSelection, SamplesInProportionToFrontCounts) {
  // 0 alone holds items 0-2; 1 alone holds item 3; 2 is on no front of its own.
  std::vector<PoolEntry> pool = {entry({1, 1, 1, 0}), entry({0, 0, 0, 1}), entry({0, 0, 0, 0})};
  EXPECT_EQ(non_dominated(pool), (std::map<std::size_t, int>{{0, 3}, {1, 1}}));
  SearchRng rng(3);
  std::map<std::size_t, int> picks;
  for (int n = 0; n < 4000; ++n) ++picks[select_parent(pool, Selection::kPareto, 0, rng)];
  EXPECT_EQ(picks.count(2), 0u);
  EXPECT_NEAR(picks[0] / 4000.0, 0.75, 0.03);
  EXPECT_EQ(select_parent(pool, Selection::kBest, 0, rng), 0u);
}

TEST(Merge, TakesTheChangedSideOfEachParameter) {
  const Candidate seed = {{"a", "A0"}, {"b", "B0"}};
  std::vector<PoolEntry> pool = {entry({1, 0, 0, 0}, seed),
                                 entry({1, 1, 0, 0}, {{"a", "A1"}, {"b", "B0"}}, {0}),
                                 entry({1, 0, 1, 0}, {{"a", "A0"}, {"b", "B1"}}, {0})};
  std::set<std::vector<std::size_t>> tried;
  SearchRng rng(1);
  auto plan = plan_merge(pool, tried, rng);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->first, 1u);
  EXPECT_EQ(plan->second, 2u);
  EXPECT_EQ(plan->ancestor, 0u);
  EXPECT_EQ(plan->child, (Candidate{{"a", "A1"}, {"b", "B1"}}));
  EXPECT_EQ(plan->changed, (std::vector<std::string>{"a", "b"}));
  // The same triple is never tried twice.
  EXPECT_FALSE(plan_merge(pool, tried, rng));
}

TEST(Merge, BothChangedTakesTheBetterParent) {
  const Candidate seed = {{"a", "A0"}, {"b", "B0"}, {"c", "C0"}};
  std::vector<PoolEntry> pool = {entry({0, 0, 0, 0}, seed),
                                 entry({1, 1, 1, 0}, {{"a", "A1"}, {"b", "B1"}, {"c", "C0"}}, {0}),
                                 entry({1, 0, 0, 1}, {{"a", "A2"}, {"b", "B0"}, {"c", "C2"}}, {0})};
  std::set<std::vector<std::size_t>> tried;
  SearchRng rng(1);
  auto plan = plan_merge(pool, tried, rng);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->child, (Candidate{{"a", "A1"}, {"b", "B1"}, {"c", "C2"}}));
  // A merge that would reproduce a pool member is skipped.
  pool[2].candidate["c"] = "C0";
  tried.clear();
  EXPECT_FALSE(plan_merge(pool, tried, rng));
}

TEST(Merge, AncestorRulesRejectPairs) {
  const Candidate seed = {{"a", "A0"}, {"b", "B0"}};
  std::set<std::vector<std::size_t>> tried;
  SearchRng rng(1);
  // Only the same parameter changed on both sides: nothing one-sided to combine.
  std::vector<PoolEntry> same = {entry({0, 0}, seed),
                                 entry({1, 0}, {{"a", "A1"}, {"b", "B0"}}, {0}),
                                 entry({0, 1}, {{"a", "A2"}, {"b", "B0"}}, {0})};
  EXPECT_FALSE(plan_merge(same, tried, rng));
  // The ancestor scores higher than a descendant.
  std::vector<PoolEntry> better_ancestor = {entry({1, 1, 0}, seed),
                                            entry({1, 0, 1}, {{"a", "A1"}, {"b", "B0"}}, {0}),
                                            entry({0, 1, 1}, {{"a", "A0"}, {"b", "B1"}}, {0})};
  // (every candidate has aggregate 2/3: the ancestor is not higher, so this one merges)
  EXPECT_TRUE(plan_merge(better_ancestor, tried, rng));
  better_ancestor[0].aggregate = 0.9;
  tried.clear();
  EXPECT_FALSE(plan_merge(better_ancestor, tried, rng));
  // One candidate descends from the other: no merge.
  std::vector<PoolEntry> line = {entry({0, 0}, seed),
                                 entry({1, 0}, {{"a", "A1"}, {"b", "B0"}}, {0}),
                                 entry({0, 1}, {{"a", "A1"}, {"b", "B1"}}, {1})};
  EXPECT_FALSE(plan_merge(line, tried, rng));
  // A single candidate.
  std::vector<PoolEntry> single = {entry({1}, seed)};
  EXPECT_FALSE(plan_merge(single, tried, rng));
}

TEST(Merge, SubsampleIsStratified) {
  PoolEntry a = entry({1, 1, 1, 0, 0, 0, 1, 1}), b = entry({0, 0, 0, 1, 1, 1, 1, 1});
  SearchRng rng(5);
  for (int n = 0; n < 20; ++n) {
    auto ids = merge_subsample(a, b, 5, rng);
    ASSERT_EQ(ids.size(), 5u);
    int a_better = 0, b_better = 0, ties = 0;
    for (std::size_t id : ids) (id < 3 ? a_better : id < 6 ? b_better : ties)++;
    // ceil(5/3) = 2 from each group in turn, until 5 are chosen.
    EXPECT_EQ(a_better, 2);
    EXPECT_EQ(b_better, 2);
    EXPECT_EQ(ties, 1);
  }
}

// A search on the simulated task, with every request recorded.
struct SimSearch {
  explicit SimSearch(SearchOptions options, bool two_parameters = false)
      : sim(std::make_shared<sim::SimulatedTask>(sim::SimulatedTaskOptions{.seed = 2})),
        engine(std::make_shared<ScriptedEngine>(
            [s = sim](const Request& r) { return s->respond(r); })),
        task(std::make_shared<sim::SimulatedSearchTask>(sim, engine)),
        search(task, seed(two_parameters), engine, std::move(options)) {}
  static Candidate seed(bool two_parameters) {
    Candidate c = {{"system", sim::SimulatedTask::initial_prompt()}};
    if (two_parameters) c["checks"] = "Check the count once.";
    return c;
  }
  std::shared_ptr<sim::SimulatedTask> sim;
  std::shared_ptr<ScriptedEngine> engine;
  std::shared_ptr<sim::SimulatedSearchTask> task;
  Search search;
};

SearchOptions budget(std::int64_t metric_calls, int concurrency = 4) {
  SearchOptions o;
  o.stop.max_metric_calls = metric_calls;
  o.concurrency = concurrency;
  o.seed = 11;
  return o;
}

TEST(Search, CallsPerProposalFollowTheDocumentedArithmetic) {
  SimSearch s(budget(400));
  int seen_forward = 30, seen_backward = 0, seen_update = 0, accepted = 0, rejected = 0;
  s.search.on_proposal = [&](const Proposal& p, const std::string&) {
    int forward = 0, backward = 0, update = 0;
    for (const Request& r : s.engine->requests()) {
      forward += r.phase == Phase::kForward;
      backward += r.phase == Phase::kBackward;
      update += r.phase == Phase::kUpdate;
    }
    int failed = 0;
    for (double score : p.parent_scores) failed += score < 1;
    const std::int64_t mb = 3, val = 30;
    switch (p.outcome) {
      case Proposal::Outcome::kSkipped:
        EXPECT_EQ(p.metric_calls, mb);
        break;
      case Proposal::Outcome::kRejected:
        EXPECT_EQ(p.metric_calls, 2 * mb);
        ++rejected;
        break;
      case Proposal::Outcome::kAccepted:
        EXPECT_EQ(p.metric_calls, 2 * mb + val);
        ++accepted;
        break;
      default:
        break;
    }
    // One forward call per metric call; two feedback calls per failed item (the metric's
    // verdict, then the answer's prompt); one update unless skipped.
    EXPECT_EQ(forward - seen_forward, p.metric_calls);
    EXPECT_EQ(backward - seen_backward, 2 * failed);
    EXPECT_EQ(update - seen_update, p.outcome == Proposal::Outcome::kSkipped ? 0 : 1);
    seen_forward = forward, seen_backward = backward, seen_update = update;
  };
  s.search.run();
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
  EXPECT_EQ(s.task->runs(), s.search.metric_calls());
}

TEST(Search, SamePoolAtConcurrencyOneAndSixteen) {
  SearchOptions with_merge = budget(600, 1);
  with_merge.max_merges = 3;
  SimSearch one(with_merge, true);
  with_merge.concurrency = 16;
  SimSearch sixteen(with_merge, true);
  int merges = 0;
  one.search.on_proposal = [&](const Proposal& p, const std::string&) {
    if (p.kind != Proposal::Kind::kMerge) return;
    ++merges;
    // Screened on a 5-item validation subsample; accepted iff it matches the better parent.
    ASSERT_EQ(p.items.size(), 5u);
    double child = 0, parent = 0;
    for (size_t n = 0; n < 5; ++n) child += p.child_scores[n], parent += p.parent_scores[n];
    const bool accepted = p.outcome == Proposal::Outcome::kAccepted;
    EXPECT_EQ(accepted, child >= parent);
    EXPECT_EQ(p.metric_calls, accepted ? 5 + 30 : 5);
    if (accepted) {
      EXPECT_EQ(one.search.pool()[*p.child_index].parents, p.parents);
    }
  };
  one.search.run();
  sixteen.search.run();
  EXPECT_GT(merges, 0);
  EXPECT_LE(merges, 3);
  EXPECT_GT(one.search.pool().size(), 2u);
  EXPECT_EQ(one.search.state(), sixteen.search.state());
}

TEST(Search, MetricCallBudgetIsNeverExceeded) {
  for (std::int64_t limit : {30, 35, 97, 250}) {
    SimSearch s(budget(limit, 16));
    s.search.run();
    EXPECT_LE(s.task->runs(), limit);
    EXPECT_EQ(s.task->runs(), s.search.metric_calls());
    // It stops only when not even a mutation's two minibatch passes would fit, or when a
    // validation pass did not fit.
    EXPECT_GT(s.search.metric_calls() + 2 * 3 + 30, limit);
  }
}

TEST(Search, ResumeFromSavedStateGivesTheSameResult) {
  SearchOptions o = budget(500);
  o.max_merges = 2;
  SimSearch whole(o, true);
  std::vector<std::string> states;
  whole.search.on_proposal = [&](const Proposal&, const std::string& state) {
    states.push_back(state);
  };
  whole.search.run();
  ASSERT_GT(states.size(), 6u);
  SimSearch resumed(o, true);  // a fresh driver, as after a kill
  resumed.search.load_state(states[5]);
  EXPECT_EQ(resumed.search.proposals(), 6);
  resumed.search.run();
  EXPECT_EQ(resumed.search.state(), whole.search.state());
  EXPECT_EQ(resumed.search.best(), whole.search.best());
  EXPECT_THROW(resumed.search.load_state("{\"version\": 1}"), InvalidArgument);
  // The saved pool can be read without a Search (the run report does).
  const std::vector<PoolEntry> saved = pool_from_state(states.back());
  ASSERT_EQ(saved.size(), whole.search.pool().size());
  EXPECT_EQ(saved.back().candidate, whole.search.pool().back().candidate);
  EXPECT_EQ(saved.back().parents, whole.search.pool().back().parents);
  EXPECT_EQ(best_candidate(saved), whole.search.best());
  EXPECT_THROW(pool_from_state("not a state"), InvalidArgument);
}

TEST(Search, ImprovesOnTheSeedAndStopsWithoutImprovement) {
  SearchOptions o;
  o.stop.max_proposals_without_improvement = 4;
  SimSearch s(o);
  const std::size_t best = s.search.run();
  const auto& pool = s.search.pool();
  EXPECT_GT(pool[best].aggregate, pool[0].aggregate);
  int last_improvement = 0;
  for (std::size_t c = 1; c < pool.size(); ++c) {
    EXPECT_GT(pool[c].proposal, -1);
    ASSERT_EQ(pool[c].parents.size(), 1u);
    EXPECT_LT(pool[c].parents[0], c);
  }
  for (std::size_t c = 0; c <= best; ++c)
    last_improvement = std::max(last_improvement, pool[c].proposal);
  EXPECT_EQ(s.search.proposals(), last_improvement + 1 + 4);
}

TEST(Search, StopFileAndWallClockStopBetweenProposals) {
  const auto dir = std::filesystem::temp_directory_path() / "tg_search_stop_test";
  std::filesystem::create_directories(dir);
  const auto stop = dir / "stop";
  std::filesystem::remove(stop);
  SearchOptions o;
  o.stop.stop_file = stop.string();
  SimSearch s(o);
  s.search.on_proposal = [&](const Proposal& p, const std::string&) {
    if (p.index == 2) std::ofstream(stop) << "";
  };
  s.search.run();
  EXPECT_EQ(s.search.proposals(), 3);
  std::filesystem::remove_all(dir);

  double now = 0;
  SearchOptions timed;
  timed.stop.max_seconds = 10;
  timed.clock = [&] { return now; };
  SimSearch t(timed);
  t.search.on_proposal = [&](const Proposal&, const std::string&) { now += 3; };
  t.search.run();
  EXPECT_EQ(t.search.proposals(), 4);  // 0, 3, 6, 9 seconds in: the fifth would start at 12
}

TEST(Search, BadInputGetsClearErrors) {
  auto message = [](SearchOptions o) {
    try {
      SimSearch s(std::move(o));
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({}).find("no stop condition"), std::string::npos);
  SearchOptions big = budget(100);
  big.minibatch = 31;
  EXPECT_NE(message(big).find("larger than the training set (30 items)"), std::string::npos);
  EXPECT_NE(message(budget(10)).find("smaller than one validation pass (30 calls)"),
            std::string::npos);
  SearchOptions tokens;
  tokens.stop.max_tokens = 1000;
  EXPECT_NE(message(tokens).find("need a ledger"), std::string::npos);
  try {
    selection_from_string("greedy");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("pareto, best or epsilon-greedy"), std::string::npos);
  }
  EXPECT_EQ(selection_from_string("epsilon-greedy"), Selection::kEpsilonGreedy);
}

}  // namespace
}  // namespace tg
