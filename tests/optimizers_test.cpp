// The Optimizer interface: state round trips, REVOLVE's history, gates, keep-best and budgets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/workloads.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<Request> updates(const ScriptedEngine& engine) {
  std::vector<Request> out;
  for (const Request& r : engine.requests()) {
    if (r.phase == Phase::kUpdate) out.push_back(r);
  }
  return out;
}

// Runs `steps` steps of loss -> backward -> step on `answer`.
void train(Optimizer& optimizer, const EnginePtr& engine, Variable answer, int steps) {
  TextLoss loss_fn(engine, "Evaluate.");
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    loss_fn(answer).backward(engine);
    optimizer.step();
  }
}

// --- gates ---

TEST(Gate, RevertIfWorseAcceptsTies) {
  GateOptions revert{GateKind::kRevertIfWorse};
  EXPECT_TRUE(decide(revert, {1, 0, 1}, {1, 0, 1}).accepted);   // tie
  EXPECT_TRUE(decide(revert, {1, 0, 1}, {0, 1, 1}).accepted);   // same mean, items swapped
  EXPECT_FALSE(decide(revert, {1, 0, 1}, {1, 0, 0}).accepted);  // worse
  GateDecision d = decide(revert, {1, 0, 1, 1}, {1, 1, 1, 0});
  EXPECT_EQ(d.wins, 1u);
  EXPECT_EQ(d.losses, 1u);
  EXPECT_EQ(d.ties, 2u);
  EXPECT_DOUBLE_EQ(d.old_mean, 0.75);
  EXPECT_TRUE(contains(d.reason, "0.7500 -> 0.7500 on 4 items"));
}

TEST(Gate, StrictNeedsAnImprovement) {
  GateOptions strict{GateKind::kStrict};
  EXPECT_FALSE(decide(strict, {1, 0}, {1, 0}).accepted);
  EXPECT_TRUE(decide(strict, {1, 0}, {1, 1}).accepted);
  EXPECT_FALSE(decide(strict, {0.5}, {0.25}).accepted);
}

TEST(Gate, NoneAcceptsEverythingAndEmptyGateSetsAccept) {
  EXPECT_TRUE(decide({GateKind::kNone}, {1, 1}, {0, 0}).accepted);
  GateDecision empty = decide({GateKind::kStrict}, {}, {});
  EXPECT_TRUE(empty.accepted);
  EXPECT_TRUE(contains(empty.reason, "no gate items"));
  EXPECT_THROW(decide({GateKind::kNone}, {1}, {1, 0}), InvalidArgument);
}

TEST(Gate, SignTestPValuesAreExact) {
  EXPECT_DOUBLE_EQ(sign_test_p_value(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(sign_test_p_value(0, 5), 1.0);
  EXPECT_NEAR(sign_test_p_value(5, 5), 1.0 / 32, 1e-12);
  EXPECT_NEAR(sign_test_p_value(4, 5), 6.0 / 32, 1e-12);
  EXPECT_NEAR(sign_test_p_value(6, 6), 1.0 / 64, 1e-12);
  EXPECT_NEAR(sign_test_p_value(9, 10), 11.0 / 1024, 1e-12);
  EXPECT_NEAR(sign_test_p_value(60, 100), 0.028443966820490392, 1e-9);
}

TEST(Gate, SignificantNeedsEnoughDiscordantWins) {
  GateOptions significant{GateKind::kSignificant, 0.05};
  // 4 wins of 4 discordant pairs: p = 1/16 > 0.05, rejected however many ties.
  std::vector<double> old_scores(20, 1), new_scores(20, 1);
  for (int i = 0; i < 4; ++i) old_scores[i] = 0;
  GateDecision four = decide(significant, old_scores, new_scores);
  EXPECT_FALSE(four.accepted);
  EXPECT_NEAR(*four.p_value, 0.0625, 1e-12);
  // 5 of 5: p = 1/32 <= 0.05, accepted.
  old_scores[4] = 0;
  GateDecision five = decide(significant, old_scores, new_scores);
  EXPECT_TRUE(five.accepted);
  EXPECT_NEAR(*five.p_value, 0.03125, 1e-12);
  // p exactly alpha is accepted.
  EXPECT_TRUE(decide({GateKind::kSignificant, 0.03125}, old_scores, new_scores).accepted);
  // All ties: p = 1, rejected.
  GateDecision ties = decide(significant, {1, 0}, {1, 0});
  EXPECT_FALSE(ties.accepted);
  EXPECT_DOUBLE_EQ(*ties.p_value, 1.0);
  // More wins than losses but not significant: rejected although the mean rose.
  EXPECT_FALSE(decide(significant, {0, 0, 0, 1}, {1, 1, 1, 0}).accepted);
}

TEST(Gate, NamesAndAlphaAreValidated) {
  EXPECT_EQ(parse_gate("revert"), GateKind::kRevertIfWorse);
  EXPECT_EQ(parse_gate("significant"), GateKind::kSignificant);
  EXPECT_THROW(parse_gate("sometimes"), InvalidArgument);
  EXPECT_THROW(validate({GateKind::kSignificant, 0}), InvalidArgument);
  EXPECT_THROW(validate({GateKind::kSignificant, 1}), InvalidArgument);
  EXPECT_NO_THROW(validate({GateKind::kSignificant, 0.5}));
}

// A gate scorer over a fixed table: value -> per-item scores.
GateScorer table_scorer(const Variable& parameter,
                        std::function<std::vector<double>(const std::string&)> score) {
  return [parameter, score] { return score(parameter.value()); };
}

TEST(GatedOptimizer, RejectedStepRestoresValueAndInnerState) {
  auto engine = testing::scripted_engine();
  Variable answer("start", "answer");
  auto inner = std::make_shared<Revolve>(std::vector<Variable>{answer}, engine);
  GatedOptimizer gated(
      inner, table_scorer(answer, [](const std::string& v) {
        return v == "start" ? std::vector<double>{1, 1} : std::vector<double>{1, 0};
      }));
  const std::string state_before = inner->state();
  TextLoss loss_fn(engine, "Evaluate.");
  loss_fn(answer).backward(engine);
  StepReport report = gated.step();
  ASSERT_TRUE(report.gate);
  EXPECT_FALSE(report.gate->accepted);
  EXPECT_EQ(report.outcomes[0].status, UpdateOutcome::Status::kUpdated);
  EXPECT_EQ(answer.value(), "start");
  EXPECT_EQ(inner->state(), state_before);  // the rejected value left no history
}

TEST(GatedOptimizer, KeepBestReturnsTheBestValueNotTheLast) {
  auto engine = testing::scripted_engine();
  Variable answer("start", "answer");
  int step = 0;
  // Scores by step: start 0.5, then 1.0, then 0.0 (accepted: no gate), then 0.5.
  std::vector<std::vector<double>> table{{1, 0}, {1, 1}, {0, 0}, {0, 1}};
  GatedOptimizer gated(std::make_shared<TGD>(std::vector<Variable>{answer}, engine),
                       [&] { return table.at(step++); }, {{GateKind::kNone}, true});
  train(gated, engine, answer, 3);
  const std::string last = answer.value();
  ASSERT_EQ(gated.best_values().size(), 1u);
  EXPECT_DOUBLE_EQ(gated.best_score(), 1.0);
  EXPECT_NE(gated.best_values()[0], last);
  gated.restore_best();
  EXPECT_EQ(answer.value(), gated.best_values()[0]);
  EXPECT_NE(answer.value(), "start");
}

// --- state and REVOLVE ---

TEST(OptimizerState, ResumingFromStateGivesTheSameRequests) {
  auto run = [](bool interrupt) {
    auto engine = testing::scripted_engine();
    Variable answer("first draft", "answer");
    RevolveOptions options;
    options.history.mode = HistoryOptions::Mode::kAll;
    auto optimizer = std::make_unique<Revolve>(std::vector<Variable>{answer}, engine, options);
    train(*optimizer, engine, answer, 2);
    if (interrupt) {  // a new process: a new Variable and optimizer, value and state restored
      const std::string value = answer.value();
      const std::string state = optimizer->state();
      answer = Variable(value, "answer");
      optimizer = std::make_unique<Revolve>(std::vector<Variable>{answer}, engine, options);
      optimizer->load_state(state);
    }
    train(*optimizer, engine, answer, 2);
    return std::pair(answer.value(), updates(*engine).back().user_text());
  };
  auto [value1, last1] = run(false);
  auto [value2, last2] = run(true);
  EXPECT_EQ(value1, value2);
  EXPECT_EQ(last1, last2);
  EXPECT_TRUE(contains(last1, "answer at step 1: first draft"));
}

TEST(OptimizerState, BadStateIsRejected) {
  auto engine = testing::scripted_engine();
  TGD tgd({Variable("a", "b")}, engine);
  EXPECT_THROW(tgd.load_state("not json"), InvalidArgument);
  EXPECT_THROW(tgd.load_state(R"({"optimizer":"revolve","parameters":[]})"), InvalidArgument);
  EXPECT_THROW(tgd.load_state(R"({"optimizer":"tgd","parameters":[]})"), InvalidArgument);
  EXPECT_NO_THROW(tgd.load_state(tgd.state()));
}

// (past values, past feedback) remembered for the first parameter, from state().
std::pair<size_t, size_t> remembered(const Optimizer& optimizer) {
  const nlohmann::json state = nlohmann::json::parse(optimizer.state());
  const nlohmann::json& parameter = state.at("parameters").at(0);
  return {parameter.at("past_values").size(), parameter.at("past_feedback").size()};
}

TEST(TGD, RemembersOnlyWhatItsWindowsShowSoTheStateStopsGrowing) {
  auto engine = testing::scripted_engine();
  Variable answer("v0", "answer");
  TGDOptions options;
  options.momentum = 3;  // the current value and two past ones
  options.gradient_memory = 2;
  TGD tgd({answer}, engine, options);
  train(tgd, engine, answer, 8);
  EXPECT_EQ(remembered(tgd), std::make_pair(size_t{2}, size_t{2}));
  // The windows still show the newest values and feedback.
  const std::string last = updates(*engine).back().user_text();
  EXPECT_TRUE(contains(last, "answer at step 3: "));
  EXPECT_TRUE(contains(last, "<FEEDBACK-2>"));
  EXPECT_FALSE(contains(last, "<FEEDBACK-3>"));

  Variable plain_answer("v0", "answer");
  TGD plain({plain_answer}, engine);  // no windows: nothing to remember
  train(plain, engine, plain_answer, 3);
  EXPECT_EQ(remembered(plain), std::make_pair(size_t{0}, size_t{0}));
}

TEST(Revolve, KeepsTheWholeTrajectory) {
  auto engine = testing::scripted_engine();
  Variable answer("v0", "answer");
  Revolve revolve({answer}, engine);
  train(revolve, engine, answer, 6);
  EXPECT_EQ(remembered(revolve).first, 6u);
  EXPECT_TRUE(contains(updates(*engine).back().user_text(), "answer at step 1: v0"));
}

TEST(Revolve, UpdateShowsTheTrajectoryWithItsInstructions) {
  auto engine = testing::scripted_engine();
  Variable answer("v0", "answer");
  Revolve revolve({answer}, engine);
  train(revolve, engine, answer, 3);
  auto sent = updates(*engine);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_FALSE(contains(sent[0].user_text(), "<PAST_ITERATIONS>"));  // nothing to compare yet
  const std::string third = sent[2].user_text();
  EXPECT_TRUE(contains(third, "<PAST_ITERATIONS>"));
  EXPECT_TRUE(contains(third, "answer at step 1: v0"));
  EXPECT_TRUE(contains(third, "answer at step 3: "));
  EXPECT_TRUE(contains(third, "too timid"));
  EXPECT_TRUE(contains(third, "Do not swing"));
  EXPECT_TRUE(contains(sent[2].system_prompt, "trajectory"));
}

TEST(Revolve, LastKAndBudgetLeaveOutTheOldestValues) {
  auto engine = testing::scripted_engine();
  Variable answer(std::string(400, 'a'), "answer");
  RevolveOptions options;
  options.history = {HistoryOptions::Mode::kLastK, 2, 0, false};
  Revolve last2({answer}, engine, options);
  train(last2, engine, answer, 4);
  std::string fourth = updates(*engine).back().user_text();
  EXPECT_FALSE(contains(fourth, "answer at step 1:"));
  EXPECT_TRUE(contains(fourth, "answer at step 2:"));
  EXPECT_TRUE(contains(fourth, "answer at step 4:"));

  auto engine2 = testing::scripted_engine();
  Variable long_answer(std::string(400, 'a'), "answer");
  RevolveOptions budgeted;
  budgeted.history = {HistoryOptions::Mode::kAll, 0, 30, false};  // 120 characters
  Revolve small({long_answer}, engine2, budgeted);
  train(small, engine2, long_answer, 3);
  std::string third = updates(*engine2).back().user_text();
  EXPECT_FALSE(contains(third, std::string(400, 'a')));
  EXPECT_TRUE(contains(third, "answer at step 3:"));
}

TEST(Revolve, HistoryInFeedbackOnlyWhenAsked) {
  auto engine = testing::scripted_engine();
  Variable answer("v0", "answer");
  RevolveOptions options;
  options.history.in_feedback = true;
  Revolve revolve({answer}, engine, options);
  TextLoss loss_fn(engine, "Evaluate.");
  for (int i = 0; i < 2; ++i) {
    revolve.zero_grad();
    loss_fn(answer).backward(engine, {.past_values = revolve.feedback_history()});
    revolve.step();
  }
  std::vector<Request> feedback;
  for (const Request& r : engine->requests()) {
    if (r.phase == Phase::kBackward) feedback.push_back(r);
  }
  ASSERT_EQ(feedback.size(), 2u);
  EXPECT_FALSE(contains(feedback[0].user_text(), "<PAST_ITERATIONS>"));
  EXPECT_TRUE(contains(feedback[1].user_text(), "<PAST_ITERATIONS>"));
  EXPECT_TRUE(contains(feedback[1].user_text(), "answer at step 1: v0"));
  Revolve off({answer}, engine);
  EXPECT_FALSE(off.feedback_history());
}

// --- sampling ---

TEST(Sampling, FunctionsOptimizersAndBackwardUseTheirOwnSettings) {
  auto engine = testing::scripted_engine();
  SamplingParams forward{.temperature = 0.7, .max_tokens = 100};
  SamplingParams feedback{.temperature = 0.0, .max_tokens = 300};
  SamplingParams update{.temperature = 1.0, .max_tokens = 900};
  Variable prompt("Be brief.", "system prompt");
  LLMCall call(engine, prompt);
  call.set_sampling(forward);
  Variable loss = TextLoss(engine, "Evaluate.")(call(Variable("q", "question", false)));
  loss.backward(engine, {.sampling = feedback});
  TGD tgd({prompt}, engine, TGDOptions{.sampling = update});
  tgd.step();
  for (const Request& r : engine->requests()) {
    switch (r.phase) {
      case Phase::kForward:
        EXPECT_EQ(r.sampling, forward);
        break;
      case Phase::kBackward:
        EXPECT_EQ(r.sampling, feedback);
        break;
      case Phase::kUpdate:
        EXPECT_EQ(r.sampling, update);
        break;
      default:
        EXPECT_FALSE(r.sampling);
    }
  }
}

// --- budgets ---

TEST(Budget, ShorteningKeepsTagsAndIsDeterministic) {
  std::string text = "<LM_INPUT> " + std::string(1000, 'x') + " </LM_INPUT>\n<LM_OUTPUT> " +
                     std::string(50, 'y') + " </LM_OUTPUT>";
  std::string cut = fit_text(text, 300);
  EXPECT_LE(cut.size(), 300u);
  EXPECT_TRUE(contains(cut, "<LM_INPUT>") && contains(cut, "</LM_INPUT>"));
  EXPECT_TRUE(contains(cut, "<LM_OUTPUT> " + std::string(50, 'y') + " </LM_OUTPUT>"));
  EXPECT_TRUE(contains(cut, std::string(kCutMarker)));
  EXPECT_EQ(cut, fit_text(text, 300));
  EXPECT_EQ(fit_text("short", 300), "short");
  // Multi-byte characters are never split.
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "é";
  std::string cut2 = fit_text(accents, 101);
  EXPECT_LE(cut2.size(), 101u);
  for (size_t i = 0; i + 1 < cut2.size(); ++i) {
    if (static_cast<unsigned char>(cut2[i]) == 0xC3) {
      EXPECT_EQ(static_cast<unsigned char>(cut2[i + 1]), 0xA9);
    }
  }
  EXPECT_EQ(estimate_tokens("abcde"), 2u);
}

// 200 batch items, each with a long conversation: every feedback request and the update
// request stay within their budgets, and the shortening is recorded and deterministic.
TEST(Budget, TwoHundredItemsStayWithinBudget) {
  auto run = [](int concurrency) {
    auto engine = testing::scripted_engine();
    Variable prompt("Answer the question. End with 'Answer: N'.", "system prompt");
    BlackboxLLM model(engine, prompt);
    std::vector<Variable> losses;
    for (int i = 0; i < 200; ++i) {
      Variable question("Question " + std::to_string(i) + ": " + std::string(3000, 'q'), "question",
                        false);
      losses.push_back(TextLoss(engine, "Evaluate the answer in detail.")(model(question)));
    }
    BackwardOptions options{.concurrency = concurrency};
    options.budget = {.conversation_tokens = 300, .request_tokens = 1000};
    sum(losses).backward(engine, options);
    TGDOptions tgd_options{.concurrency = concurrency};
    tgd_options.budget = {.feedback_tokens = 200, .request_tokens = 8000};
    TGD tgd({prompt}, engine, tgd_options);
    StepReport report = tgd.step();
    for (const Request& r : engine->requests()) {
      const size_t size = r.system_prompt.size() + r.user_text().size();
      if (r.phase == Phase::kBackward) {
        EXPECT_LE(size, chars_for_tokens(1000));
      }
      if (r.phase == Phase::kUpdate) {
        EXPECT_LE(size, chars_for_tokens(8000));
      }
    }
    EXPECT_EQ(updates(*engine).size(), 1u);
    EXPECT_FALSE(report.outcomes[0].notes.empty());
    bool left_out = false;
    for (const auto& note : report.outcomes[0].notes) left_out |= contains(note, "left out");
    EXPECT_TRUE(left_out);
    EXPECT_TRUE(contains(updates(*engine)[0].user_text(), "were left out"));
    return updates(*engine)[0].user_text();
  };
  EXPECT_EQ(run(1), run(16));
}

TEST(Budget, NegativeBudgetsAreRejected) {
  auto engine = testing::scripted_engine();
  TGDOptions bad;
  bad.budget.request_tokens = -1;
  EXPECT_THROW(TGD({Variable("a", "b")}, engine, bad), InvalidArgument);
  RevolveOptions bad_history;
  bad_history.history.budget_tokens = -5;
  EXPECT_THROW(Revolve({Variable("a", "b")}, engine, bad_history), InvalidArgument);
}

}  // namespace
}  // namespace tg
