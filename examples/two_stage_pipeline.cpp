// A two-stage pipeline written as a tg::Module: a planner prompt and a solver prompt, a custom
// graph function that extracts the final answer (with its own backward), semantic
// backpropagation (one joint feedback call for the solver's two trainable inputs) and REVOLVE
// optimizing both prompts at once, behind a revert-if-worse gate on a small gate set.
//   example_two_stage_pipeline [ENGINE]
#include <iostream>

#include "example_engine.h"
#include "textgrad/textgrad.h"

namespace {

// Offline answers for this example only: the solver gets the count right once its prompt says
// to count every item, and the planner's prompt improves to list the items.
std::string offline_answer(const tg::Request& r) {
  const std::string user = r.user_text();
  const bool counts_all = r.system_prompt.find("every item") != std::string::npos;
  switch (r.phase) {
    case tg::Phase::kForward:
      if (r.system_prompt.find("Answer: N") == std::string::npos) {  // the planner
        return "Plan: list the items, count each one, add the counts.";
      }
      return counts_all ? "Counted every item. Answer: 4" : "Counted the kinds. Answer: 3";
    case tg::Phase::kBackward:
      if (user.find("<VARIABLE_1>") != std::string::npos) {
        return "<FEEDBACK_1>The plan should say that items of one kind are counted one by "
               "one.</FEEDBACK_1>\n<FEEDBACK_2>The solver prompt should say to count every item, "
               "not every kind of item.</FEEDBACK_2>";
      }
      return "The answer counted kinds of objects instead of objects: two lamps are two.";
    case tg::Phase::kUpdate:
      if (user.find("planning stage") != std::string::npos) {
        return "<IMPROVED_VARIABLE>Write a plan: list every item with its number, then add "
               "them.</IMPROVED_VARIABLE>";
      }
      return "<IMPROVED_VARIABLE>Follow the plan, count every item (two lamps are two), and end "
             "with 'Answer: N'.</IMPROVED_VARIABLE>";
    default:
      return "ok";
  }
}

// Extracts "Answer: N" from the solver's reasoning. Backward needs no LLM call: the feedback on
// the extracted answer is feedback on the reasoning that produced it.
class ExtractAnswer : public tg::CustomFunction {
 public:
  std::string name() const override { return "ExtractAnswer"; }
  std::string forward(const std::vector<std::string>& in) override {
    const auto at = in[0].rfind("Answer:");
    return at == std::string::npos ? "" : in[0].substr(at + 8);
  }
  std::vector<std::string> backward(const tg::CustomBackward& call) override {
    if (call.output_feedback.empty()) return {""};
    return {"The final answer extracted from this reasoning was criticized: " +
            call.output_feedback};
  }
};

class Pipeline : public tg::Module {
 public:
  explicit Pipeline(const tg::EnginePtr& engine)
      : planner_(register_parameter(
            tg::Variable("Make a plan for the question.", "system prompt of the planning stage"))),
        solver_(register_parameter(tg::Variable("Follow the plan and end with 'Answer: N'.",
                                                "system prompt of the solving stage"))),
        plan_(engine, planner_),
        solve_(engine, solver_) {}

  tg::Variable operator()(const tg::Variable& question) const {
    tg::Variable plan = plan_(question, "plan for the question");
    tg::Variable reasoning = solve_(plan, "reasoning that follows the plan");
    return tg::apply(extract_, {reasoning}, "final answer");
  }

 private:
  tg::Variable planner_;
  tg::Variable solver_;
  tg::LLMCall plan_;
  tg::LLMCall solve_;
  std::shared_ptr<ExtractAnswer> extract_ = std::make_shared<ExtractAnswer>();
};

}  // namespace

int main(int argc, char** argv) {
  tg::EnginePtr engine = argc > 1 ? examples::example_engine(argc, argv)
                                  : std::make_shared<tg::ScriptedEngine>(offline_answer);
  Pipeline pipeline(engine);
  const std::vector<std::pair<std::string, std::string>> gate_set = {
      {"I have two lamps and two chairs. How many objects do I have?", "4"},
      {"I have a flute and three drums. How many instruments do I have?", "4"}};
  auto score = [&] {
    std::vector<double> scores;
    for (const auto& [question, target] : gate_set) {
      scores.push_back(pipeline(tg::Variable(question, "question", false)).value() == target);
    }
    return scores;
  };
  auto revolve = std::make_shared<tg::Revolve>(pipeline.parameters(), engine);
  tg::GatedOptimizer optimizer(revolve, score, {{tg::GateKind::kRevertIfWorse}, true});
  tg::TextLoss loss_fn(engine, "Is the final answer right? The correct answer is 4.");
  for (int step = 1; step <= 2; ++step) {
    optimizer.zero_grad();
    tg::Variable question("I have two lamps, a table and a sofa. How many objects do I have?",
                          "question", false);
    loss_fn(pipeline(question)).backward(engine, {.mode = tg::BackwardMode::kJoint});
    tg::StepReport report = optimizer.step();
    std::cout << "Step " << step << ": " << report.gate->reason << "\n";
  }
  optimizer.restore_best();
  for (const tg::Variable& p : pipeline.parameters()) {
    std::cout << p.role_description() << ":\n  " << p.value() << "\n";
  }
}
