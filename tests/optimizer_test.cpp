#include <gtest/gtest.h>

#include <atomic>

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

// An answer with feedback produced by a real backward pass.
Variable answer_with_feedback(const EnginePtr& engine,
                              std::string text = "The answer is 1.2 hours.") {
  Variable answer(std::move(text), "answer to the shirts question");
  TextLoss(engine, "Evaluate the answer.")(answer).backward(engine);
  return answer;
}

TEST(TGD, UpdatePromptShowsFullValueContextAndFeedback) {
  auto engine = testing::scripted_engine();
  std::string long_value;
  for (int i = 0; i < 60; ++i) long_value += "word" + std::to_string(i) + " ";
  Variable answer = answer_with_feedback(engine, long_value);
  TGD optimizer({answer}, engine);
  StepReport report = optimizer.step();
  auto sent = updates(*engine);
  ASSERT_EQ(sent.size(), 1u);
  const std::string prompt = sent[0].user_text();
  EXPECT_TRUE(contains(prompt, long_value));  // the full value, not a 20-word span
  EXPECT_TRUE(contains(prompt, "<ROLE>answer to the shirts question</ROLE>"));
  EXPECT_TRUE(contains(prompt, "<CONVERSATION>"));
  EXPECT_TRUE(contains(prompt, "<FEEDBACK>" + answer.gradients()[0].text + "</FEEDBACK>"));
  EXPECT_TRUE(contains(sent[0].system_prompt, "<IMPROVED_VARIABLE>"));
  EXPECT_FALSE(contains(prompt, "<CONSTRAINTS>"));
  ASSERT_EQ(report.outcomes.size(), 1u);
  EXPECT_EQ(report.outcomes[0].status, UpdateOutcome::Status::kUpdated);
  EXPECT_TRUE(answer.value().starts_with("Improved value"));
}

TEST(TGD, ConstraintsExamplesAndCustomTagsReachThePrompt) {
  auto engine = std::make_shared<ScriptedEngine>([](const Request& r) {
    if (r.phase == Phase::kUpdate) return std::string("<NEW>fixed text</NEW>");
    return testing::scripted_answer(r);
  });
  Variable answer = answer_with_feedback(engine);
  TGDOptions options;
  options.constraints = {"End with 'Answer: $VALUE'.", "Stay under 50 words."};
  options.in_context_examples = {"Example: It still takes 1 hour."};
  options.start_tag = "<NEW>";
  options.end_tag = "</NEW>";
  TGD optimizer({answer}, engine, options);
  optimizer.step();
  Request sent = updates(*engine).at(0);
  const std::string prompt = sent.user_text();
  EXPECT_TRUE(contains(
      prompt, "Constraint 1: End with 'Answer: $VALUE'.\nConstraint 2: Stay under 50 words."));
  EXPECT_TRUE(contains(prompt, "<EXAMPLES>\nExample: It still takes 1 hour.\n</EXAMPLES>"));
  EXPECT_TRUE(contains(prompt, "<NEW>") && contains(prompt, "</NEW>"));
  EXPECT_FALSE(contains(prompt, "IMPROVED_VARIABLE"));
  EXPECT_FALSE(contains(sent.system_prompt, "IMPROVED_VARIABLE"));
  EXPECT_TRUE(contains(sent.system_prompt, "<NEW>"));
  EXPECT_EQ(answer.value(), "fixed text");
}

TEST(TGD, GradientMemoryAndMomentumReachThePromptOnLaterSteps) {
  auto engine = testing::scripted_engine();
  Variable answer("first draft", "answer");
  TGDOptions options;
  options.gradient_memory = 2;
  options.momentum = 3;
  TGD optimizer({answer}, engine, options);
  TextLoss loss_fn(engine, "Evaluate.");
  std::vector<std::string> values{answer.value()};
  std::vector<std::string> feedback;
  for (int step = 0; step < 3; ++step) {
    optimizer.zero_grad();
    loss_fn(answer).backward(engine);
    feedback.push_back(answer.gradient_text());
    optimizer.step();
    values.push_back(answer.value());
  }
  auto sent = updates(*engine);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_FALSE(contains(sent[0].user_text(), "<PAST_ITERATIONS>"));
  EXPECT_FALSE(contains(sent[0].user_text(), "<PAST_FEEDBACK>"));
  const std::string third = sent[2].user_text();
  EXPECT_TRUE(contains(third, "<PAST_ITERATIONS>"));
  EXPECT_TRUE(contains(third, "answer at step 1: " + values[0]));
  EXPECT_TRUE(contains(third, "answer at step 2: " + values[1]));
  EXPECT_TRUE(contains(third, "answer at step 3: " + values[2]));
  EXPECT_TRUE(contains(third, "<FEEDBACK-1>" + feedback[0] + "</FEEDBACK-1>"));
  EXPECT_TRUE(contains(third, "<FEEDBACK-2>" + feedback[1] + "</FEEDBACK-2>"));
}

TEST(TGD, MissingTagsGetOneRepairThenTheValueIsKept) {
  std::atomic<int> update_calls{0};  // the two parameters are updated concurrently
  auto engine = std::make_shared<ScriptedEngine>([&](const Request& r) {
    if (r.phase != Phase::kUpdate) return testing::scripted_answer(r);
    ++update_calls;
    if (r.user_text().find("<ROLE>good") != std::string::npos) {
      return std::string("<IMPROVED_VARIABLE>better</IMPROVED_VARIABLE>");
    }
    return std::string("Here is my improved version: no tags at all.");
  });
  Variable bad = answer_with_feedback(engine, "bad start");
  bad.set_role_description("bad parameter");
  Variable good("good start", "good parameter");
  good.add_gradient("Make it better.");
  TGD optimizer({bad, good}, engine);
  StepReport report = optimizer.step();
  EXPECT_EQ(update_calls.load(), 3);  // bad: first + repair; good: one
  EXPECT_EQ(bad.value(), "bad start");
  EXPECT_EQ(good.value(), "better");
  EXPECT_EQ(report.outcomes[0].status, UpdateOutcome::Status::kKept);
  EXPECT_TRUE(contains(report.outcomes[0].reason, "<IMPROVED_VARIABLE>"));
  EXPECT_TRUE(contains(report.outcomes[0].reason, "no tags at all"));
  EXPECT_EQ(report.outcomes[0].calls, 2);
  EXPECT_EQ(report.outcomes[1].status, UpdateOutcome::Status::kUpdated);
  EXPECT_EQ(report.updated(), 1);
}

TEST(TGD, RepairRequestQuotesTheBadAnswerAndCanSucceed) {
  auto engine = std::make_shared<ScriptedEngine>([](const Request& r) {
    if (r.phase != Phase::kUpdate) return testing::scripted_answer(r);
    if (r.user_text().find("<PREVIOUS_ANSWER>") != std::string::npos) {
      return std::string("<IMPROVED_VARIABLE>repaired</IMPROVED_VARIABLE>");
    }
    return std::string("forgot the tags");
  });
  Variable answer = answer_with_feedback(engine);
  TGD optimizer({answer}, engine);
  StepReport report = optimizer.step();
  EXPECT_EQ(answer.value(), "repaired");
  EXPECT_EQ(report.outcomes[0].calls, 2);
  EXPECT_TRUE(contains(updates(*engine).at(1).user_text(), "forgot the tags"));
}

TEST(TGD, EngineFailureForOneParameterDoesNotStopTheOthers) {
  auto engine = std::make_shared<ScriptedEngine>([](const Request& r) {
    if (r.phase == Phase::kUpdate && r.user_text().find("<ROLE>first") != std::string::npos) {
      throw EngineError(EngineErrorKind::kContextLength, "prompt is too long");
    }
    return testing::scripted_answer(r);
  });
  Variable first("a", "first parameter");
  Variable second("b", "second parameter");
  first.add_gradient("shorter");
  second.add_gradient("longer");
  TGD optimizer({first, second}, engine);
  EXPECT_THROW(optimizer.step(), EngineError);
  EXPECT_EQ(first.value(), "a");
  EXPECT_TRUE(second.value().starts_with("Improved value"));
}

TEST(TGD, ParametersWithoutFeedbackAreSkippedWithoutACall) {
  auto engine = testing::scripted_engine();
  Variable idle("unchanged", "idle parameter");
  TGD optimizer({idle}, engine);
  StepReport report = optimizer.step();
  EXPECT_EQ(engine->calls(), 0);
  EXPECT_EQ(report.outcomes[0].status, UpdateOutcome::Status::kSkipped);
}

TEST(TGD, RejectsParametersThatCannotBeOptimized) {
  auto engine = testing::scripted_engine();
  EXPECT_THROW(TGD({Variable("x", "frozen", false)}, engine), InvalidArgument);
  EXPECT_THROW(TGD({Variable("x", "y")}, nullptr), InvalidArgument);
  TGDOptions same_tags;
  same_tags.end_tag = same_tags.start_tag;
  EXPECT_THROW(TGD({Variable("x", "y")}, engine, same_tags), InvalidArgument);
}

TEST(TGD, ZeroGradClearsFeedback) {
  auto engine = testing::scripted_engine();
  Variable answer = answer_with_feedback(engine);
  TGD optimizer({answer}, engine);
  optimizer.zero_grad();
  EXPECT_TRUE(answer.gradients().empty());
}

}  // namespace
}  // namespace tg
