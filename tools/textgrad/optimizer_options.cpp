#include "optimizer_options.h"

#include "util/clip.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "textgrad/search.h"
#include "util/json_parse.h"

namespace tg::cli {
namespace {

using nlohmann::json;

std::unique_ptr<Optimizer> make_method(const OptimizerFlags& flags, const Variable& prompt,
                                       const EnginePtr& engine, int concurrency) {
  TGDOptions tgd;
  tgd.constraints = flags.constraints;
  tgd.concurrency = concurrency;
  tgd.budget.request_tokens = flags.update_budget;
  if (flags.optimizer == "revolve") {
    RevolveOptions options;
    options.tgd = std::move(tgd);
    if (flags.momentum > 0) {
      options.history.mode = HistoryOptions::Mode::kLastK;
      options.history.last_k = flags.momentum;
    }
    return std::make_unique<Revolve>(std::vector<Variable>{prompt}, engine, std::move(options));
  }
  tgd.momentum = flags.momentum;
  return std::make_unique<TGD>(std::vector<Variable>{prompt}, engine, std::move(tgd));
}

json gate_json(const GateDecision& d) {
  json j = {{"gate", to_string(d.kind)},
            {"accepted", d.accepted},
            {"reason", d.reason},
            {"old_mean", d.old_mean},
            {"new_mean", d.new_mean},
            {"items", d.items},
            {"wins", d.wins},
            {"losses", d.losses},
            {"ties", d.ties}};
  if (d.p_value) {
    j["p_value"] = *d.p_value;
    j["alpha"] = d.alpha;
  }
  return j;
}

}  // namespace

void add_optimizer_flags(CLI::App& cmd, OptimizerFlags& f) {
  cmd.add_option("--optimizer", f.optimizer,
                 "tgd (TextGrad), revolve (history-aware updates), semantic (one joint "
                 "feedback call per node) or gepa (Pareto candidate search)")
      ->capture_default_str();
  cmd.add_option("--gate", f.gate,
                 "Acceptance of each step on the validation set: none, revert (unless worse), "
                 "strict (must improve) or significant (paired sign test)")
      ->capture_default_str();
  cmd.add_option("--alpha", f.alpha, "Significance level of --gate significant")
      ->capture_default_str();
  cmd.add_flag("--keep-best", f.keep_best,
               "End with the prompt that scored best on the validation set, not the last");
  cmd.add_option("--momentum", f.momentum,
                 "Past prompts shown in the update request (tgd: momentum window; revolve: "
                 "the last K, default all)");
  cmd.add_option("--feedback-budget", f.feedback_budget,
                 "Token budget of every feedback request (0 = no limit; tokens ~ chars/4)");
  cmd.add_option("--update-budget", f.update_budget,
                 "Token budget of every update request (0 = no limit; tokens ~ chars/4)");
  cmd.add_option("--constraint", f.constraints, "A rule the new prompt must follow (repeatable)");
  cmd.add_option("--role", f.role, "Role description of the optimized prompt");
  cmd.add_option("--merge", f.merge, "gepa: at most N merges of two candidates (0 = off)");
  cmd.add_option("--minibatch", f.minibatch, "gepa: training items per proposal")
      ->capture_default_str();
  cmd.add_option("--selection", f.selection,
                 "gepa: parent selection: pareto, best or epsilon-greedy")
      ->capture_default_str();
  cmd.add_option("--max-metric-calls", f.max_metric_calls,
                 "gepa: evaluations of a candidate on one item, never exceeded (required)");
}

void validate(const OptimizerFlags& f) {
  if (f.optimizer != "tgd" && f.optimizer != "revolve" && f.optimizer != "semantic" &&
      f.optimizer != "gepa") {
    throw InvalidArgument(fmt::format(
        "unknown optimizer '{}': use --optimizer tgd, revolve, semantic or gepa", f.optimizer));
  }
  if (f.optimizer == "gepa") {
    selection_from_string(f.selection);
    if (f.max_metric_calls <= 0) {
      throw InvalidArgument(
          "--optimizer gepa needs a stop condition: give --max-metric-calls N (evaluations of a "
          "candidate on one item)");
    }
    if (f.minibatch < 1) throw InvalidArgument("--minibatch must be at least 1");
    if (f.merge < 0) throw InvalidArgument("--merge must be 0 (off) or more");
  }
  GateOptions gate{parse_gate(f.gate), f.alpha};
  validate(gate);
  if (f.momentum < 0) throw InvalidArgument("--momentum must be 0 or more");
  if (f.feedback_budget < 0 || f.update_budget < 0) {
    throw InvalidArgument(
        "--feedback-budget and --update-budget must be 0 (no limit) or a positive number of "
        "tokens");
  }
}

json to_json(const OptimizerFlags& f) {
  return {{"optimizer", f.optimizer},
          {"gate", f.gate},
          {"alpha", f.alpha},
          {"keep_best", f.keep_best},
          {"momentum", f.momentum},
          {"feedback_budget", f.feedback_budget},
          {"update_budget", f.update_budget},
          {"constraints", f.constraints},
          {"role", f.role},
          {"merge", f.merge},
          {"minibatch", f.minibatch},
          {"selection", f.selection},
          {"max_metric_calls", f.max_metric_calls}};
}

OptimizerFlags optimizer_flags_from_json(const json& j) {
  OptimizerFlags f;
  f.optimizer = j.value("optimizer", f.optimizer);
  f.gate = j.value("gate", f.gate);
  f.alpha = j.value("alpha", f.alpha);
  f.keep_best = j.value("keep_best", f.keep_best);
  f.momentum = j.value("momentum", f.momentum);
  f.feedback_budget = j.value("feedback_budget", f.feedback_budget);
  f.update_budget = j.value("update_budget", f.update_budget);
  f.constraints = j.value("constraints", f.constraints);
  f.role = j.value("role", f.role);
  f.merge = j.value("merge", f.merge);
  f.minibatch = j.value("minibatch", f.minibatch);
  f.selection = j.value("selection", f.selection);
  f.max_metric_calls = j.value("max_metric_calls", f.max_metric_calls);
  return f;
}

RunOptimizer build_optimizer(const OptimizerFlags& flags, const Variable& prompt,
                             const EnginePtr& engine, int concurrency, GateScorer gate_scorer) {
  validate(flags);
  std::shared_ptr<Optimizer> method = make_method(flags, prompt, engine, concurrency);
  RunOptimizer run;
  run.optimizer = std::make_shared<GatedOptimizer>(
      method, std::move(gate_scorer),
      GatedOptions{{parse_gate(flags.gate), flags.alpha}, flags.keep_best});
  run.backward.concurrency = concurrency;
  run.backward.budget.request_tokens = flags.feedback_budget;
  if (flags.optimizer == "semantic") run.backward.mode = BackwardMode::kJoint;
  return run;
}

json step_record(const StepReport& report, const Optimizer& optimizer) {
  json outcomes = json::array();
  for (const UpdateOutcome& o : report.outcomes) {
    outcomes.push_back({{"status", to_string(o.status)},
                        {"reason", util::clip(o.reason)},  // may quote a huge answer
                        {"calls", o.calls},
                        {"notes", o.notes}});
  }
  json j = {{"name", report.optimizer},
            {"outcomes", outcomes},
            {"state", util::parse_json(optimizer.state())}};
  if (report.gate) j["gate"] = gate_json(*report.gate);
  return j;
}

void restore_optimizer(Optimizer& optimizer, const json& saved) {
  if (saved.contains("state")) optimizer.load_state(saved["state"].dump());
}

}  // namespace tg::cli
