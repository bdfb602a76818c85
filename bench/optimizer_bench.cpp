// Offline optimizer benchmark on the simulated task of bench/simulated_task.h: for each
// optimizer x gate, over 5 seeds, 12 steps of batch 3 each, the final and best test accuracy,
// how often a step made the test accuracy worse, the final prompt length, and the calls and
// tokens spent (training, feedback, updates and gate evaluations; the test measurement itself
// is computed directly and costs nothing).
//
// It measures the machinery (gates, histories, joint feedback, costs), not a real LLM.
//   textgrad_optimizer_bench [SEEDS]
#include <cstdio>
#include <memory>
#include <numeric>

#include <fmt/format.h>

#include "simulated_search.h"
#include "simulated_task.h"
#include "textgrad/textgrad.h"

namespace {

using namespace tg;

struct RunResult {
  double final_test = 0;
  double best_test = 0;
  double worse_steps = 0;  // fraction of steps
  double prompt_chars = 0;
  double calls = 0;
  double tokens = 0;
  double metric_calls = 0;  // forward calls: training, gate and search evaluations
};

int forward_calls(const ScriptedEngine& engine) {
  int n = 0;
  for (const Request& r : engine.requests()) n += r.phase == Phase::kForward;
  return n;
}

constexpr int kSteps = 12;
constexpr int kBatch = 3;

std::vector<double> gate_scores(const BlackboxLLM& model,
                                const std::vector<sim::SimulatedTask::Item>& items) {
  std::vector<Variable> answers;
  for (const auto& item : items)
    answers.push_back(model(Variable(item.question, "question", false)));
  std::vector<double> scores;
  for (size_t i = 0; i < items.size(); ++i) {
    scores.push_back(answers[i].value().ends_with("Answer: " + items[i].target) ? 1 : 0);
  }
  return scores;
}

RunResult run(const std::string& optimizer, GateKind gate, std::uint64_t seed) {
  sim::SimulatedTask task({.seed = seed});
  auto engine =
      std::make_shared<ScriptedEngine>([&task](const Request& r) { return task.respond(r); });
  Variable prompt(sim::SimulatedTask::initial_prompt(), "system prompt for counting questions");
  BlackboxLLM model(engine, prompt);
  std::shared_ptr<Optimizer> method;
  if (optimizer == "revolve") {
    method = std::make_shared<Revolve>(std::vector<Variable>{prompt}, engine);
  } else {
    method = std::make_shared<TGD>(std::vector<Variable>{prompt}, engine);
  }
  const auto val = task.val();
  GatedOptimizer gated(method, [&] { return gate_scores(model, val); }, {{gate, 0.1}, false});
  StringBasedFunction metric(
      [](const Fields& in) {
        return std::string(
            in.at("answer").value().ends_with("Answer: " + in.at("target").value()) ? "1" : "0");
      },
      "checks whether the answer's final count equals the target");
  BackwardOptions backward;
  if (optimizer == "semantic") {  // joint feedback, from failed items only
    backward.mode = BackwardMode::kJoint;
    backward.skip = [](const Variable& v) {
      return v.role_description() == roles::kFunctionOutput && v.value() == "1";
    };
  }
  const auto train = task.train();
  const auto test = task.test();
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return sim::hash(std::to_string(a), seed) < sim::hash(std::to_string(b), seed);
  });
  RunResult result;
  double previous = task.accuracy(prompt.value(), test);
  result.best_test = previous;
  int worse = 0;
  for (int step = 0; step < kSteps; ++step) {
    gated.zero_grad();
    std::vector<Variable> losses;
    for (int i = 0; i < kBatch; ++i) {
      const auto& item = train[order[(step * kBatch + i) % order.size()]];
      Variable response = model(Variable(item.question, "question", false));
      losses.push_back(
          metric({{"answer", response}, {"target", Variable(item.target, "target", false)}}));
    }
    Variable total = sum(losses);
    bool any = true;
    if (backward.skip) {
      any = false;
      for (const Variable& l : losses) any |= l.value() != "1";
    }
    if (any) total.backward(engine, backward);
    gated.step();
    const double now = task.accuracy(prompt.value(), test);
    worse += now < previous;
    result.best_test = std::max(result.best_test, now);
    previous = now;
  }
  result.final_test = previous;
  result.worse_steps = static_cast<double>(worse) / kSteps;
  result.prompt_chars = static_cast<double>(prompt.value().size());
  result.calls = engine->calls();
  result.tokens = static_cast<double>(engine->usage().input_tokens + engine->usage().output_tokens);
  result.metric_calls = forward_calls(*engine);
  return result;
}

// GEPA (tg::Search) on the same task, stopped by a metric-call budget. Final test: the
// candidate with the best validation score; best test: the best candidate of the pool on the
// test set (the same oracle as for the step-by-step optimizers).
RunResult run_gepa(int merges, bool two_prompts, std::int64_t metric_calls, std::uint64_t seed) {
  auto task = std::make_shared<sim::SimulatedTask>(sim::SimulatedTaskOptions{.seed = seed});
  auto engine =
      std::make_shared<ScriptedEngine>([task](const Request& r) { return task->respond(r); });
  SearchOptions options;
  options.seed = seed;
  options.max_merges = merges;
  options.stop.max_metric_calls = metric_calls;
  Candidate start = {{"system", sim::SimulatedTask::initial_prompt()}};
  if (two_prompts) start["checks"] = "Check the count once.";  // merges need two parameters
  Search search(std::make_shared<sim::SimulatedSearchTask>(task, engine), start, engine, options);
  const std::size_t best = search.run();
  auto prompt = [&](const Candidate& c) {
    auto checks = c.find("checks");
    return c.at("system") + (checks == c.end() ? "" : "\n" + checks->second);
  };
  RunResult result;
  const auto test = task->test();
  result.final_test = task->accuracy(prompt(search.pool()[best].candidate), test);
  for (const PoolEntry& e : search.pool())
    result.best_test = std::max(result.best_test, task->accuracy(prompt(e.candidate), test));
  result.prompt_chars = static_cast<double>(prompt(search.pool()[best].candidate).size());
  result.calls = engine->calls();
  result.tokens = static_cast<double>(engine->usage().input_tokens + engine->usage().output_tokens);
  result.metric_calls = forward_calls(*engine);
  return result;
}

void print_row(const char* optimizer, const char* gate, const RunResult& m, bool per_step) {
  std::printf("| %s | %s | %.1f%% | %.1f%% | %s | %.0f | %.0f | %.0f | %.0fk |\n", optimizer, gate,
              100 * m.final_test, 100 * m.best_test,
              per_step ? fmt::format("{:.0f}%", 100 * m.worse_steps).c_str() : "-", m.prompt_chars,
              m.metric_calls, m.calls, m.tokens / 1000);
}

void add_mean(RunResult& mean, const RunResult& r, int seeds) {
  mean.final_test += r.final_test / seeds;
  mean.best_test += r.best_test / seeds;
  mean.worse_steps += r.worse_steps / seeds;
  mean.prompt_chars += r.prompt_chars / seeds;
  mean.calls += r.calls / seeds;
  mean.tokens += r.tokens / seeds;
  mean.metric_calls += r.metric_calls / seeds;
}

}  // namespace

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 5;
  std::printf(
      "Simulated counting task (bench/simulated_task.h), %d steps of batch %d, %d seeds; "
      "means over seeds. It measures the machinery, not a real LLM.\n\n",
      kSteps, kBatch, seeds);
  std::printf(
      "| optimizer | gate | final test | best test | steps that hurt test | prompt chars | metric "
      "calls | calls | tokens |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  double gated_metric_calls = 0;
  for (const char* optimizer : {"tgd", "revolve", "semantic"}) {
    for (GateKind gate :
         {GateKind::kNone, GateKind::kRevertIfWorse, GateKind::kStrict, GateKind::kSignificant}) {
      RunResult mean;
      for (int s = 1; s <= seeds; ++s) add_mean(mean, run(optimizer, gate, s), seeds);
      print_row(optimizer, to_string(gate), mean, true);
      if (gate == GateKind::kRevertIfWorse && std::string(optimizer) == "tgd")
        gated_metric_calls = mean.metric_calls;
    }
  }
  // GEPA at the metric-call budget of a gated TGD run (its gate evaluations are its
  // validation passes), with and without merge.
  const auto budget = static_cast<std::int64_t>(gated_metric_calls);
  struct Variant {
    const char* name;
    int merges;
    bool two_prompts;
  };
  for (Variant v : {Variant{"gepa, 1 prompt", 0, false}, Variant{"gepa, 2 prompts", 0, true},
                    Variant{"gepa + merge, 2 prompts", 5, true}}) {
    RunResult mean;
    for (int s = 1; s <= seeds; ++s)
      add_mean(mean, run_gepa(v.merges, v.two_prompts, budget, s), seeds);
    print_row(v.name, "-", mean, false);
  }
}
