#include "support/workloads.h"

#include <fmt/format.h>

#include "util/text.h"

namespace tg::testing {

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string scripted_answer(const Request& request) {
  const std::string user = request.user_text();
  switch (request.phase) {
    case Phase::kForward:
      return fmt::format("Reasoning {:x}. Answer: {}", fnv1a(user) % 4096, fnv1a(user) % 7);
    case Phase::kLoss:
      if (user.find("<ACCURACY>") != std::string::npos ||
          user.find("ACCURACY") != std::string::npos) {
        return "<ACCURACY>0</ACCURACY> the prediction does not match";
      }
      return fmt::format("Critique {:x}: the answer skips a step.", fnv1a(user) % 4096);
    case Phase::kBackward:
      if (user.find("<VARIABLE_1>") != std::string::npos) {  // joint feedback: one section each
        std::string sections;
        for (int k = 1; user.find(fmt::format("<VARIABLE_{}>", k)) != std::string::npos; ++k) {
          sections += fmt::format("<FEEDBACK_{0}>Feedback {1:x} for variable {0}.</FEEDBACK_{0}>\n",
                                  k, fnv1a(user) % 65536);
        }
        return sections;
      }
      return fmt::format("Feedback {:x}: be more explicit.", fnv1a(user) % 65536);
    case Phase::kReduce:
      return fmt::format("Summary {:x}", fnv1a(user) % 4096);
    case Phase::kUpdate:
      return fmt::format("<IMPROVED_VARIABLE>Improved value {:x}</IMPROVED_VARIABLE>",
                         fnv1a(user) % 65536);
    default:
      return "ok";
  }
}

namespace {

std::unique_ptr<Optimizer> make_optimizer(std::vector<Variable> parameters, const EnginePtr& engine,
                                          const WorkloadOptions& options) {
  TGDOptions tgd{.concurrency = options.concurrency};
  if (options.optimizer == "revolve") {
    return std::make_unique<Revolve>(std::move(parameters), engine, RevolveOptions{tgd, {}});
  }
  return std::make_unique<TGD>(std::move(parameters), engine, tgd);
}

BackwardOptions backward_options(const WorkloadOptions& options) {
  BackwardOptions b{.concurrency = options.concurrency};
  if (options.optimizer == "semantic") b.mode = BackwardMode::kJoint;
  return b;
}

}  // namespace

std::shared_ptr<ScriptedEngine> scripted_engine(int delay_ms) {
  ScriptedEngine::Options options;
  options.delay = std::chrono::milliseconds(delay_ms);
  return std::make_shared<ScriptedEngine>(scripted_answer, options);
}

void run_solution_workload(const EnginePtr& engine, const WorkloadOptions& options) {
  Variable answer("It takes 1.2 hours to dry 30 shirts.",
                  "concise and accurate answer to the question");
  TextLoss loss_fn(engine, "Evaluate the answer to the shirts question; be critical and concise.");
  auto optimizer = make_optimizer({answer}, engine, options);
  for (int step = 0; step < options.steps; ++step) {
    optimizer->zero_grad();
    Variable loss = loss_fn(answer);
    loss.backward(engine, backward_options(options));
    optimizer->step();
  }
}

std::string run_prompt_workload(const EnginePtr& engine, const WorkloadOptions& options) {
  Variable system_prompt(
      "You will answer a reasoning question. Think step by step. The last line of your response "
      "should be of the following format: 'Answer: $VALUE' where VALUE is a numerical value.",
      "structured system prompt to a somewhat capable language model that specifies the "
      "behavior and strategies for the QA task");
  BlackboxLLM model(engine, system_prompt);
  auto optimizer = make_optimizer(model.parameters(), engine, options);
  StringBasedFunction metric(
      [](const Fields& inputs) {
        const std::string prediction = inputs.at("prediction").value();
        const std::string truth = inputs.at("ground_truth_answer").value();
        return std::to_string(prediction.ends_with(truth) ? 1 : 0);
      },
      "The runtime of string-based function that checks if the prediction is correct.");
  MultiFieldTokenParsedEvaluation judge(
      engine,
      Variable("Does the prediction match the ground truth? Answer 1 or 0 in <ACCURACY> tags.",
               "evaluation instruction", false),
      {"Question for the task", "Ground truth answer",
       "Reasoning and prediction from the language model"},
      {"<ACCURACY>", "</ACCURACY>"});
  for (int step = 0; step < options.steps; ++step) {
    optimizer->zero_grad();
    std::vector<Variable> losses;
    for (int i = 0; i < 3; ++i) {
      Variable x(fmt::format("Question {} of step {}: how many objects are there?", i, step),
                 roles::kLlmInput, false);
      Variable y(std::to_string(i + step), "correct answer for the query", false);
      Variable response = model(x);
      if (options.llm_judge) {
        losses.push_back(judge({x, y, response}));
      } else {
        losses.push_back(metric({{"prediction", response}, {"ground_truth_answer", y}}));
      }
    }
    Variable total = sum(losses);
    total.backward(engine, backward_options(options));
    optimizer->step();
  }
  return system_prompt.value();
}

void run_chain_workload(const EnginePtr& engine, const WorkloadOptions& options) {
  Variable x("A farmer has 17 sheep; all but 9 run away.", "question to solve", true);
  auto stage = [&](const char* instruction) {
    return LLMCall(engine, Variable(instruction, roles::kSystemPrompt, false));
  };
  LLMCall first = stage("Restate the problem precisely.");
  LLMCall second = stage("Solve the restated problem step by step.");
  LLMCall third = stage("Give only the final answer.");
  TextLoss loss_fn(engine, "Evaluate whether the final answer is right; be critical.");
  auto optimizer = make_optimizer({x}, engine, options);
  for (int step = 0; step < options.steps; ++step) {
    optimizer->zero_grad();
    Variable y3 = third(second(first(x)));
    Variable loss = loss_fn(y3);
    loss.backward(engine, backward_options(options));
    optimizer->step();
  }
}

std::string run_pipeline_workload(const EnginePtr& engine, const WorkloadOptions& options) {
  Variable planner("List the quantities in the question, then the steps to combine them.",
                   "system prompt of the planning stage");
  Variable solver("Follow the plan and end with 'Answer: N'.",
                  "system prompt of the solving stage");
  LLMCall plan_call(engine, planner);
  LLMCall solve_call(engine, solver);
  TextLoss loss_fn(engine, "Is the final answer right? Be critical and concise.");
  auto optimizer = make_optimizer({planner, solver}, engine, options);
  for (int step = 0; step < options.steps; ++step) {
    optimizer->zero_grad();
    Variable question(fmt::format("Question {}: I have 3 apples and buy {} more.", step, step + 2),
                      roles::kLlmInput, false);
    Variable plan = plan_call(question, "plan for the question");
    Variable answer = solve_call(plan, "answer following the plan");
    loss_fn(answer).backward(engine, backward_options(options));
    optimizer->step();
  }
  return planner.value() + "\n" + solver.value();
}

}  // namespace tg::testing
