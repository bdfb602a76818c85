// Joint (semantic backpropagation) feedback, skipping nodes, toggling requires_grad during a
// backward, and custom functions in the executor.
#include <gtest/gtest.h>

#include <mutex>

#include "support/workloads.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

std::vector<Request> of_phase(const ScriptedEngine& engine, Phase phase) {
  std::vector<Request> out;
  for (const Request& r : engine.requests()) {
    if (r.phase == phase) out.push_back(r);
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A call whose system prompt and input both require grad, evaluated by a TextLoss.
struct TwoInputs {
  Variable system{"Answer briefly.", "system prompt of the solver"};
  Variable question{"What is 2+2?", "question to the solver"};
  Variable loss;
  explicit TwoInputs(const EnginePtr& engine) {
    Variable answer = LLMCall(engine, system)(question, "solver answer");
    loss = TextLoss(engine, "Evaluate the answer.")(answer);
  }
};

std::shared_ptr<ScriptedEngine> joint_engine(std::function<std::string(const Request&)> joint) {
  return std::make_shared<ScriptedEngine>([joint](const Request& r) {
    if (r.phase == Phase::kBackward && contains(r.user_text(), "<VARIABLE_1>")) return joint(r);
    return testing::scripted_answer(r);
  });
}

TEST(JointBackward, OneCallPerNodeInsteadOfOnePerEdge) {
  auto per_edge = testing::scripted_engine();
  TwoInputs a(per_edge);
  a.loss.backward(per_edge);
  EXPECT_EQ(of_phase(*per_edge, Phase::kBackward).size(), 3u);  // loss->answer, 2 edges

  auto joint = joint_engine([](const Request&) {
    return std::string(
        "<FEEDBACK_1>Ask for the number only.</FEEDBACK_1>\n"
        "<FEEDBACK_2>State the units.</FEEDBACK_2>");
  });
  TwoInputs b(joint);
  b.loss.backward(joint, {.mode = BackwardMode::kJoint});
  auto calls = of_phase(*joint, Phase::kBackward);
  ASSERT_EQ(calls.size(), 2u);  // loss->answer (one input: the per-edge request), one joint
  const std::string prompt = calls[1].user_text();
  EXPECT_TRUE(contains(prompt, "Role: system prompt of the solver\nValue: Answer briefly."));
  EXPECT_TRUE(contains(prompt, "Role: question to the solver\nValue: What is 2+2?"));
  EXPECT_TRUE(contains(prompt, "<LM_OUTPUT>"));
  EXPECT_TRUE(contains(prompt, b.loss.predecessors().at(1).gradient_text()));  // downstream
  EXPECT_EQ(b.system.gradient_text(), "Ask for the number only.");
  EXPECT_EQ(b.question.gradient_text(), "State the units.");
  // The first call is byte-identical to the per-edge mode's.
  EXPECT_EQ(calls[0].user_text(), of_phase(*per_edge, Phase::kBackward)[0].user_text());
}

TEST(JointBackward, SectionsAreParsedRobustly) {
  auto engine = joint_engine([](const Request&) {
    return std::string("Sure.\n< feedback_2 >second, unclosed\n<Feedback-1>first</FEEDBACK 1>");
  });
  TwoInputs t(engine);
  t.loss.backward(engine, {.mode = BackwardMode::kJoint});
  EXPECT_EQ(t.system.gradient_text(), "first");
  EXPECT_EQ(t.question.gradient_text(), "second, unclosed");
  EXPECT_EQ(of_phase(*engine, Phase::kBackward).size(), 2u);  // no repair needed
}

TEST(JointBackward, MissingSectionGetsOneRepairThenANote) {
  int joint_calls = 0;
  auto engine = joint_engine([&](const Request& r) {
    ++joint_calls;
    EXPECT_EQ(contains(r.user_text(), "<PREVIOUS_ANSWER>"), joint_calls == 2);
    return std::string("<FEEDBACK_1>only the first</FEEDBACK_1>");
  });
  TwoInputs t(engine);
  t.loss.backward(engine, {.mode = BackwardMode::kJoint});
  EXPECT_EQ(joint_calls, 2);
  EXPECT_EQ(t.system.gradient_text(), "only the first");
  EXPECT_EQ(t.question.gradient_text(), "");
  ASSERT_EQ(t.question.gradients().size(), 1u);
  ASSERT_EQ(t.question.gradients()[0].notes.size(), 1u);
  EXPECT_TRUE(contains(t.question.gradients()[0].notes[0], "no <FEEDBACK_2> section"));
  // An optimizer skips it and says why.
  TGD optimizer({t.question}, engine);
  StepReport report = optimizer.step();
  EXPECT_EQ(report.outcomes[0].status, UpdateOutcome::Status::kSkipped);
  EXPECT_TRUE(contains(report.outcomes[0].notes.at(0), "no <FEEDBACK_2> section"));
}

TEST(JointBackward, RepairCanSupplyTheMissingSection) {
  auto engine = joint_engine([](const Request& r) {
    if (contains(r.user_text(), "<PREVIOUS_ANSWER>"))
      return std::string("<FEEDBACK_2>now the second</FEEDBACK_2>");
    return std::string("<FEEDBACK_1>the first</FEEDBACK_1>");
  });
  TwoInputs t(engine);
  t.loss.backward(engine, {.mode = BackwardMode::kJoint});
  EXPECT_EQ(t.system.gradient_text(), "the first");
  EXPECT_EQ(t.question.gradient_text(), "now the second");
}

TEST(JointBackward, RequestsDoNotDependOnConcurrency) {
  auto run = [](int concurrency) {
    auto engine = std::make_shared<ScriptedEngine>(
        [](const Request& r) {
          if (r.phase == Phase::kBackward && contains(r.user_text(), "<VARIABLE_1>")) {
            auto h = testing::fnv1a(r.user_text());
            return "<FEEDBACK_1>a" + std::to_string(h % 97) + "</FEEDBACK_1><FEEDBACK_2>b" +
                   std::to_string(h % 89) + "</FEEDBACK_2>";
          }
          return testing::scripted_answer(r);
        },
        ScriptedEngine::Options{.delay = std::chrono::milliseconds(2)});
    Variable system("Answer briefly.", "system prompt");
    std::vector<Variable> losses;
    std::vector<Variable> questions;
    for (int i = 0; i < 4; ++i) {
      questions.emplace_back("question " + std::to_string(i), "question " + std::to_string(i));
      losses.push_back(TextLoss(engine, "Evaluate.")(LLMCall(engine, system)(questions.back())));
    }
    sum(losses).backward(engine, {.concurrency = concurrency, .mode = BackwardMode::kJoint});
    std::vector<std::string> out;
    for (const Request& r : engine->requests()) out.push_back(r.user_text());
    std::sort(out.begin(), out.end());
    out.push_back(system.gradient_text());
    return out;
  };
  EXPECT_EQ(run(1), run(16));
}

TEST(BackwardSkip, SkippedLossesGiveNoFeedback) {
  auto engine = testing::scripted_engine();
  Variable system("Be helpful.", "system prompt");
  BlackboxLLM model(engine, system);
  std::vector<Variable> losses;
  for (int i = 0; i < 3; ++i) {
    losses.push_back(
        TextLoss(engine, "Evaluate.")(model(Variable("q" + std::to_string(i), "q", false))));
  }
  Variable passed = losses[1];
  sum(losses).backward(engine, {.skip = [passed](const Variable& v) { return v == passed; }});
  EXPECT_EQ(system.gradients().size(), 2u);  // feedback from the two failed items only
  EXPECT_EQ(of_phase(*engine, Phase::kBackward).size(), 4u);
}

// Toggling requires_grad while a backward runs must neither crash nor hang: the executor uses
// the edges it snapshotted at discovery.
TEST(BackwardToggle, RequiresGradChangedDuringBackwardIsSafe) {
  Variable frozen("frozen input", "input", false);
  Variable trainable("trainable input", "other input", true);
  auto engine = std::make_shared<ScriptedEngine>([&](const Request& r) {
    if (r.phase == Phase::kBackward) {
      frozen.set_requires_grad(true);      // joins the graph after discovery
      trainable.set_requires_grad(false);  // leaves it
    }
    return testing::scripted_answer(r);
  });
  Variable y = LLMCall(engine)(std::vector<Variable>{frozen, trainable}, "answer");
  Variable loss = TextLoss(engine, "Evaluate.")(y);
  for (int concurrency : {1, 8}) {
    frozen.set_requires_grad(false);
    trainable.set_requires_grad(true);
    EXPECT_NO_THROW(loss.backward(engine, {.concurrency = concurrency}));
    EXPECT_TRUE(frozen.gradients().empty());  // not discovered: gets nothing
  }
}

// --- custom functions ---

class Recorder {
 public:
  void add(std::string event) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

class Shout : public CustomFunction {
 public:
  explicit Shout(Recorder& log, bool fail = false) : log_(log), fail_(fail) {}
  std::string name() const override { return "Shout"; }
  std::string forward(const std::vector<std::string>& in) override { return in.at(0) + "!"; }
  std::vector<std::string> backward(const CustomBackward& call) override {
    log_.add("custom backward");
    if (fail_) throw std::runtime_error("shout cannot explain itself");
    seen_feedback = call.output_feedback;
    // Its own LLM call through the engine of the pass.
    std::string extra = call.engine.generate(Request::Text("explain", "", Phase::kBackward)).text;
    return {"Make it louder. " + call.output_feedback, ""};
  }
  std::string seen_feedback;

 private:
  Recorder& log_;
  bool fail_;
};

TEST(CustomFunction, BackwardRunsAfterConsumersAndBeforeInputs) {
  Recorder log;
  auto engine = std::make_shared<ScriptedEngine>([&](const Request& r) {
    if (r.phase == Phase::kBackward) {
      log.add(contains(r.user_text(), "<ROLE>first draft") ? "feedback to draft"
              : r.user_text() == "explain"                 ? "custom's own call"
                                                           : "feedback to shout");
    }
    return testing::scripted_answer(r);
  });
  Variable seed("a seed", "first draft source", true);
  Variable draft = LLMCall(engine)(seed, "first draft");
  Variable side("side input", "side", true);
  auto shout = std::make_shared<Shout>(log);
  Variable loud = apply(shout, {draft, side}, "shouted draft");
  EXPECT_EQ(loud.value(), draft.value() + "!");
  Variable loss = TextLoss(engine, "Evaluate.")(loud);
  loss.backward(engine);
  std::vector<std::string> events = log.events();
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[0], "feedback to shout");
  EXPECT_EQ(events[1], "custom backward");
  EXPECT_EQ(events[2], "custom's own call");
  EXPECT_EQ(events[3], "feedback to draft");
  EXPECT_EQ(shout->seen_feedback, loud.gradient_text());
  EXPECT_EQ(draft.gradient_text(), "Make it louder. " + loud.gradient_text());
  EXPECT_TRUE(side.gradients().empty());  // empty string = no feedback
}

TEST(CustomFunction, ErrorsSurfaceAsBackwardError) {
  Recorder log;
  auto engine = testing::scripted_engine();
  Variable x("text", "input text", true);
  Variable loud = apply(std::make_shared<Shout>(log, /*fail=*/true), {x, x}, "shouted text");
  Variable loss = TextLoss(engine, "Evaluate.")(loud);
  try {
    loss.backward(engine);
    FAIL() << "expected a BackwardError";
  } catch (const BackwardError& e) {
    EXPECT_TRUE(contains(e.what(), "shouted text"));
    EXPECT_TRUE(contains(e.what(), "shout cannot explain itself"));
  }
}

TEST(CustomFunction, WrongNumberOfFeedbackTextsIsAnError) {
  class Bad : public CustomFunction {
    std::string name() const override { return "Bad"; }
    std::string forward(const std::vector<std::string>&) override { return "x"; }
    std::vector<std::string> backward(const CustomBackward&) override { return {}; }
  };
  auto engine = testing::scripted_engine();
  Variable x("text", "input text", true);
  Variable loss = TextLoss(engine, "Evaluate.")(apply(std::make_shared<Bad>(), {x}, "out"));
  try {
    loss.backward(engine);
    FAIL();
  } catch (const BackwardError& e) {
    EXPECT_TRUE(contains(e.what(), "returned 0 feedback texts for 1 inputs"));
  }
}

TEST(Module, ParametersOfSubModulesOnceInRegistrationOrder) {
  class Stage : public Module {
   public:
    explicit Stage(Variable p) : prompt(register_parameter(std::move(p))) {}
    Variable prompt;
  };
  class Pipeline : public Module {
   public:
    Pipeline(const Stage& a, const Stage& b, Variable shared) {
      register_parameter(shared);
      register_module(a);
      register_module(b);
    }
  };
  Variable shared("shared", "shared prompt");
  Stage a(Variable("a", "prompt a"));
  Stage b(shared);
  Pipeline p(a, b, shared);
  std::vector<Variable> params = p.parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0], shared);
  EXPECT_EQ(params[1], a.prompt);
  class Frozen : public Module {
   public:
    Frozen() { register_parameter(Variable("x", "frozen", false)); }
  };
  EXPECT_THROW(Frozen(), InvalidArgument);
}

}  // namespace
}  // namespace tg
