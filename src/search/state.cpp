// Saving and restoring a search: the pool, the sampler position, the RNG and the counters.
#include <nlohmann/json.hpp>

#include "textgrad/errors.h"
#include "textgrad/search.h"

namespace tg {

using nlohmann::json;

namespace {

constexpr int kStateVersion = 1;

json entry_to_json(const PoolEntry& e) {
  return {{"candidate", e.candidate},           {"parents", e.parents},
          {"val_scores", e.val_scores},         {"aggregate", e.aggregate},
          {"next_component", e.next_component}, {"proposal", e.proposal}};
}

PoolEntry entry_from_json(const json& j) {
  PoolEntry e;
  e.candidate = j.at("candidate").get<Candidate>();
  e.parents = j.at("parents").get<std::vector<std::size_t>>();
  e.val_scores = j.at("val_scores").get<std::vector<double>>();
  e.aggregate = j.at("aggregate").get<double>();
  e.next_component = j.at("next_component").get<int>();
  e.proposal = j.at("proposal").get<int>();
  return e;
}

std::vector<PoolEntry> pool_of(const json& state) {
  std::vector<PoolEntry> pool;
  for (const json& e : state.at("pool")) pool.push_back(entry_from_json(e));
  return pool;
}

}  // namespace

std::vector<PoolEntry> pool_from_state(const std::string& state) {
  try {
    return pool_of(json::parse(state));
  } catch (const json::exception& e) {
    throw InvalidArgument(std::string("search state: not a saved search (") + e.what() + ")");
  }
}

std::string Search::state() const {
  json pool = json::array();
  for (const PoolEntry& e : pool_) pool.push_back(entry_to_json(e));
  return json{{"version", kStateVersion},      {"pool", pool},
              {"rng", rng_.state()},           {"order", order_},
              {"position", position_},         {"proposals", proposals_},
              {"metric_calls", metric_calls_}, {"since_improvement", since_improvement_},
              {"merges_done", merges_done_},   {"merges_due", merges_due_},
              {"tried_merges", tried_merges_}}
      .dump();
}

void Search::load_state(const std::string& text) {
  try {
    const json j = json::parse(text);
    if (j.at("version").get<int>() != kStateVersion)
      throw InvalidArgument("search state: unsupported version " + j.at("version").dump());
    std::vector<PoolEntry> pool = pool_of(j);
    for (const PoolEntry& e : pool) {
      if (e.val_scores.size() != task_->val_size())
        throw InvalidArgument("search state: scores for " + std::to_string(e.val_scores.size()) +
                              " validation items, but the task has " +
                              std::to_string(task_->val_size()));
    }
    pool_ = std::move(pool);
    rng_.set_state(j.at("rng").get<std::uint64_t>());
    order_ = j.at("order").get<std::vector<std::size_t>>();
    position_ = j.at("position").get<std::size_t>();
    proposals_ = j.at("proposals").get<int>();
    metric_calls_ = j.at("metric_calls").get<std::int64_t>();
    since_improvement_ = j.at("since_improvement").get<int>();
    merges_done_ = j.at("merges_done").get<int>();
    merges_due_ = j.at("merges_due").get<int>();
    tried_merges_ = j.at("tried_merges").get<std::set<std::vector<std::size_t>>>();
    out_of_budget_ = false;
  } catch (const json::exception& e) {
    throw InvalidArgument(std::string("search state: not a saved search (") + e.what() + ")");
  }
}

}  // namespace tg
