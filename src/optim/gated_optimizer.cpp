#include "textgrad/gated_optimizer.h"

#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "textgrad/errors.h"
#include "util/json_dump.h"
#include "util/json_parse.h"

namespace tg {
namespace {

using nlohmann::json;

double mean(const std::vector<double>& scores) {
  if (scores.empty()) return 0;
  return std::accumulate(scores.begin(), scores.end(), 0.0) / static_cast<double>(scores.size());
}

}  // namespace

GatedOptimizer::GatedOptimizer(std::shared_ptr<Optimizer> inner, GateScorer scorer,
                               GatedOptions options)
    : inner_(std::move(inner)), scorer_(std::move(scorer)), options_(options) {
  if (!inner_) throw InvalidArgument("GatedOptimizer needs an optimizer to wrap");
  if (!scorer_) throw InvalidArgument("GatedOptimizer needs a scorer for the gate set");
  validate(options_.gate);
}

std::vector<std::string> GatedOptimizer::values() const {
  std::vector<std::string> out;
  for (const Variable& p : parameters()) out.push_back(p.value());
  return out;
}

void GatedOptimizer::set_values(const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    Variable p = parameters()[i];
    p.set_value(values[i]);
  }
}

void GatedOptimizer::set_current_scores(std::vector<double> scores) {
  baseline_ = std::move(scores);
  scored_ = true;
  offer_best();
}

void GatedOptimizer::ensure_scored() {
  if (!scored_) set_current_scores(scorer_());
}

void GatedOptimizer::offer_best() {
  if (!options_.keep_best) return;
  const double score = mean(baseline_);
  if (best_values_.empty() || score > best_mean_) {
    best_values_ = values();
    best_mean_ = score;
  }
}

void GatedOptimizer::restore_best() {
  if (!best_values_.empty()) set_values(best_values_);
}

StepReport GatedOptimizer::step() {
  ensure_scored();
  const std::vector<std::string> old_values = values();
  const std::string old_state = inner_->state();
  StepReport report = inner_->step();
  if (values() == old_values) {
    GateDecision unchanged;
    unchanged.kind = options_.gate.kind;
    unchanged.items = baseline_.size();
    unchanged.old_mean = unchanged.new_mean = mean(baseline_);
    unchanged.reason = "nothing changed, nothing to gate";
    report.gate = unchanged;
    return report;
  }
  std::vector<double> new_scores = scorer_();
  GateDecision decision = decide(options_.gate, baseline_, new_scores);
  if (decision.accepted) {
    baseline_ = std::move(new_scores);
    offer_best();
  } else {
    set_values(old_values);
    inner_->load_state(old_state);
  }
  report.gate = std::move(decision);
  return report;
}

std::string GatedOptimizer::state() const {
  json j = {{"optimizer", "gated"},
            {"gate", to_string(options_.gate.kind)},
            {"inner", util::parse_json(inner_->state())},
            {"scored", scored_},
            {"scores", baseline_}};
  if (options_.keep_best) j["best"] = {{"values", best_values_}, {"mean", best_mean_}};
  return util::dump_json(j);
}

void GatedOptimizer::load_state(const std::string& state) {
  try {
    const json j = util::parse_json(state);
    if (j.at("optimizer") != "gated") {
      throw InvalidArgument("the state is not a gated optimizer's; pass the text state() returned");
    }
    inner_->load_state(j.at("inner").dump());
    scored_ = j.at("scored").get<bool>();
    baseline_ = j.at("scores").get<std::vector<double>>();
    if (options_.keep_best && j.contains("best")) {
      best_values_ = j["best"].at("values").get<std::vector<std::string>>();
      best_mean_ = j["best"].at("mean").get<double>();
    }
  } catch (const json::exception& e) {
    throw InvalidArgument(
        fmt::format("not a gated optimizer state ({}); pass the text state() returned", e.what()));
  }
}

}  // namespace tg
