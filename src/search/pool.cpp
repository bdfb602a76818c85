// Pool algorithms of the search: Pareto fronts, dominance removal, parent selection and merge
// planning. Every random choice draws from the caller's SearchRng in a fixed order (Note
// [Search determinism] in textgrad/search.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "textgrad/errors.h"
#include "textgrad/search.h"

namespace tg {

std::uint64_t SearchRng::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::size_t SearchRng::below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

double SearchRng::uniform() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }

const char* to_string(Selection selection) {
  switch (selection) {
    case Selection::kPareto:
      return "pareto";
    case Selection::kBest:
      return "best";
    case Selection::kEpsilonGreedy:
      return "epsilon-greedy";
  }
  return "?";
}

Selection selection_from_string(const std::string& name) {
  for (Selection s : {Selection::kPareto, Selection::kBest, Selection::kEpsilonGreedy}) {
    if (name == to_string(s)) return s;
  }
  throw InvalidArgument("unknown selection strategy '" + name +
                        "': use pareto, best or epsilon-greedy");
}

std::vector<std::set<std::size_t>> pareto_fronts(const std::vector<PoolEntry>& pool) {
  std::size_t items = pool.empty() ? 0 : pool.front().val_scores.size();
  std::vector<std::set<std::size_t>> fronts(items);
  for (std::size_t item = 0; item < items; ++item) {
    double top = -INFINITY;
    for (const PoolEntry& e : pool) top = std::max(top, e.val_scores.at(item));
    for (std::size_t c = 0; c < pool.size(); ++c) {
      if (pool[c].val_scores[item] == top) fronts[item].insert(c);
    }
  }
  return fronts;
}

namespace {

// Dominated: every front holding `c` also holds another candidate still in play.
bool dominated(std::size_t c, const std::vector<std::set<std::size_t>>& fronts,
               const std::set<std::size_t>& in_play) {
  for (const auto& front : fronts) {
    if (!front.contains(c)) continue;
    bool other = std::any_of(front.begin(), front.end(),
                             [&](std::size_t o) { return o != c && in_play.contains(o); });
    if (!other) return false;
  }
  return true;
}

}  // namespace

std::map<std::size_t, int> non_dominated(const std::vector<PoolEntry>& pool) {
  const auto fronts = pareto_fronts(pool);
  std::vector<std::size_t> by_score(pool.size());
  std::iota(by_score.begin(), by_score.end(), 0);
  std::stable_sort(by_score.begin(), by_score.end(), [&](std::size_t a, std::size_t b) {
    return pool[a].aggregate < pool[b].aggregate;
  });
  std::set<std::size_t> in_play(by_score.begin(), by_score.end());
  for (bool removed = true; removed;) {
    removed = false;
    for (std::size_t c : by_score) {
      if (in_play.contains(c) && dominated(c, fronts, in_play)) {
        in_play.erase(c);
        removed = true;
        break;  // one at a time: in_play changed
      }
    }
  }
  std::map<std::size_t, int> counts;
  for (std::size_t c : in_play) {
    counts[c] = static_cast<int>(
        std::count_if(fronts.begin(), fronts.end(), [&](const auto& f) { return f.contains(c); }));
  }
  return counts;
}

std::size_t best_candidate(const std::vector<PoolEntry>& pool) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < pool.size(); ++c) {
    if (pool[c].aggregate > pool[best].aggregate) best = c;
  }
  return best;
}

std::size_t select_parent(const std::vector<PoolEntry>& pool, Selection selection, double epsilon,
                          SearchRng& rng) {
  if (pool.empty()) throw InvalidArgument("select_parent: the pool is empty");
  switch (selection) {
    case Selection::kBest:
      return best_candidate(pool);
    case Selection::kEpsilonGreedy:
      return rng.uniform() < epsilon ? rng.below(pool.size()) : best_candidate(pool);
    case Selection::kPareto:
      break;
  }
  std::vector<std::size_t> tickets;  // each survivor once per front it is on
  for (const auto& [c, count] : non_dominated(pool)) tickets.insert(tickets.end(), count, c);
  if (tickets.empty()) return best_candidate(pool);
  return tickets[rng.below(tickets.size())];
}

std::set<std::size_t> ancestors(const std::vector<PoolEntry>& pool, std::size_t index) {
  std::set<std::size_t> seen;
  std::vector<std::size_t> todo = pool.at(index).parents;
  while (!todo.empty()) {
    std::size_t p = todo.back();
    todo.pop_back();
    if (seen.insert(p).second)
      todo.insert(todo.end(), pool[p].parents.begin(), pool[p].parents.end());
  }
  return seen;
}

namespace {

// Some parameter is unchanged from the ancestor on one side and changed on the other.
bool one_sided_change(const Candidate& a, const Candidate& b, const Candidate& ancestor) {
  for (const auto& [name, text] : ancestor) {
    const bool a_same = a.at(name) == text, b_same = b.at(name) == text;
    if (a_same != b_same) return true;
  }
  return false;
}

std::optional<std::size_t> pick_ancestor(const std::vector<PoolEntry>& pool, std::size_t i,
                                         std::size_t j,
                                         const std::set<std::vector<std::size_t>>& tried,
                                         SearchRng& rng) {
  const auto of_i = ancestors(pool, i), of_j = ancestors(pool, j);
  std::vector<std::size_t> usable;
  for (std::size_t a : of_i) {
    if (!of_j.contains(a) || tried.contains({i, j, a})) continue;
    if (pool[a].aggregate > pool[i].aggregate || pool[a].aggregate > pool[j].aggregate) continue;
    if (one_sided_change(pool[i].candidate, pool[j].candidate, pool[a].candidate))
      usable.push_back(a);
  }
  if (usable.empty()) return std::nullopt;
  double total = 0;
  for (std::size_t a : usable) total += pool[a].aggregate;
  if (total <= 0) return usable[rng.below(usable.size())];
  double x = rng.uniform() * total;
  for (std::size_t a : usable) {
    x -= pool[a].aggregate;
    if (x < 0) return a;
  }
  return usable.back();
}

}  // namespace

std::optional<MergePlan> plan_merge(const std::vector<PoolEntry>& pool,
                                    std::set<std::vector<std::size_t>>& tried, SearchRng& rng) {
  std::vector<std::size_t> candidates;
  for (const auto& [c, count] : non_dominated(pool)) candidates.push_back(c);
  if (candidates.size() < 2) return std::nullopt;
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::size_t i = candidates[rng.below(candidates.size())];
    std::size_t j = candidates[rng.below(candidates.size())];
    if (i == j) continue;
    if (i > j) std::swap(i, j);
    if (ancestors(pool, i).contains(j) || ancestors(pool, j).contains(i)) continue;
    auto a = pick_ancestor(pool, i, j, tried, rng);
    if (!a) continue;
    tried.insert({i, j, *a});
    MergePlan plan{i, j, *a, {}, {}};
    const Candidate &ci = pool[i].candidate, &cj = pool[j].candidate, &ca = pool[*a].candidate;
    for (const auto& [name, text] : ca) {
      const std::string &ti = ci.at(name), &tj = cj.at(name);
      if (ti == text) {
        plan.child[name] = tj;
      } else if (tj == text || ti == tj) {
        plan.child[name] = ti;
      } else if (pool[i].aggregate != pool[j].aggregate) {
        plan.child[name] = pool[i].aggregate > pool[j].aggregate ? ti : tj;
      } else {
        plan.child[name] = rng.below(2) == 0 ? ti : tj;
      }
      if (plan.child[name] != text) plan.changed.push_back(name);
    }
    bool known = std::any_of(pool.begin(), pool.end(),
                             [&](const PoolEntry& e) { return e.candidate == plan.child; });
    if (!known) return plan;
  }
  return std::nullopt;
}

std::vector<std::size_t> merge_subsample(const PoolEntry& a, const PoolEntry& b, int k,
                                         SearchRng& rng) {
  std::vector<std::size_t> groups[3];  // a better, b better, tie
  for (std::size_t id = 0; id < a.val_scores.size(); ++id) {
    const double x = a.val_scores[id], y = b.val_scores.at(id);
    groups[x > y ? 0 : x < y ? 1 : 2].push_back(id);
  }
  auto shuffle = [&](std::vector<std::size_t>& v) {
    for (std::size_t n = v.size(); n > 1; --n) std::swap(v[n - 1], v[rng.below(n)]);
  };
  const std::size_t want = static_cast<std::size_t>(std::max(k, 0));
  const std::size_t per_group = (want + 2) / 3;
  std::vector<std::size_t> chosen, rest;
  for (auto& group : groups) {
    shuffle(group);
    for (std::size_t n = 0; n < group.size(); ++n) {
      (n < per_group && chosen.size() < want ? chosen : rest).push_back(group[n]);
    }
  }
  std::sort(rest.begin(), rest.end());
  shuffle(rest);
  for (std::size_t n = 0; chosen.size() < want && n < rest.size(); ++n) chosen.push_back(rest[n]);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace tg
