#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "support/workloads.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

TEST(Variable, RequiresARoleDescription) {
  EXPECT_THROW(Variable("text", ""), InvalidArgument);
  EXPECT_THROW(Variable("text", "   "), InvalidArgument);
  Variable ok("text", "a role");
  EXPECT_EQ(ok.value(), "text");
  EXPECT_TRUE(ok.requires_grad());
}

TEST(Variable, IntegersBecomeDecimalText) {
  Variable number(42, "a number", false);
  EXPECT_EQ(number.value(), "42");
  EXPECT_FALSE(number.requires_grad());
}

TEST(Variable, EmptyHandleGivesAClearError) {
  Variable empty;
  EXPECT_FALSE(empty.defined());
  EXPECT_THROW(empty.value(), InvalidArgument);
}

TEST(Variable, ShortValueKeepsHeadAndTail) {
  std::string words;
  for (int i = 1; i <= 25; ++i) words += (i > 1 ? " w" : "w") + std::to_string(i);
  Variable v(words, "a long text");
  EXPECT_EQ(v.short_value(),
            "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 (...) w16 w17 w18 w19 w20 w21 w22 w23 w24 w25");
  Variable short_text("only a few words", "a short text");
  EXPECT_EQ(short_text.short_value(), "only a few words");
}

TEST(Variable, ImagesAreDetectedAndNeverRequireGrad) {
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  Variable image = Variable::image(png, "a picture");
  EXPECT_TRUE(image.is_image());
  EXPECT_EQ(image.image_part().media_type, "image/png");
  EXPECT_FALSE(image.requires_grad());
  EXPECT_THROW(image.set_requires_grad(true), InvalidArgument);
  EXPECT_THROW(Variable::image("not an image", "x"), InvalidArgument);
  EXPECT_THROW(Variable::image("", "x"), InvalidArgument);
  EXPECT_THROW(Variable::image_file("/nonexistent/file.png", "x"), InvalidArgument);
}

TEST(Functions, SumJoinsValuesAndRoles) {
  Variable a("Line1", "first line");
  Variable b("Line2", "second line");
  Variable total = sum({a, b});
  EXPECT_EQ(total.value(), "Line1\nLine2");
  EXPECT_NE(total.role_description().find("first line"), std::string::npos);
  EXPECT_NE(total.role_description().find("second line"), std::string::npos);
  EXPECT_EQ(total.predecessors().size(), 2u);
}

TEST(Functions, PlusConcatenatesWithANewline) {
  Variable a("Hello", "greeting", false);
  Variable b("world", "object", true);
  Variable joined = a + b;
  EXPECT_EQ(joined.value(), "Hello\nworld");
  EXPECT_EQ(joined.role_description(), "greeting and object");
  EXPECT_TRUE(joined.requires_grad());
  EXPECT_EQ(concat({a, b}, " ").value(), "Hello world");
}

TEST(Functions, FormattedCallSendsTheFormattedPrompt) {
  auto engine = ScriptedEngine::echo();
  FormattedLLMCall call(engine, "Question: {question}\nPrediction: {prediction}",
                        {"question", "prediction"});
  Variable question("What is {2+2}?", "question", false);
  Variable prediction("4", "prediction");
  Variable out = call({{"question", question}, {"prediction", prediction}});
  EXPECT_EQ(out.value(), "Question: What is {2+2}?\nPrediction: 4");
  auto preds = out.predecessors();
  ASSERT_EQ(preds.size(), 2u);
  EXPECT_EQ(preds[0], question);
  EXPECT_EQ(preds[1], prediction);
  EXPECT_THROW(call({{"question", question}}), InvalidArgument);
  EXPECT_THROW(FormattedLLMCall(engine, "{missing}", {"question"}), InvalidArgument);
}

TEST(Functions, LlmCallReturnsAPendingVariableAndSendsSystemPrompt) {
  auto engine = testing::scripted_engine(/*delay_ms=*/100);
  Variable system("Be brief.", roles::kSystemPrompt, false);
  LLMCall call(engine, system);
  Variable question("Why is the sky blue?", roles::kLlmInput, false);
  auto start = std::chrono::steady_clock::now();
  Variable answer = call(question);
  EXPECT_FALSE(answer.ready());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
  EXPECT_NE(answer.value().find("Answer:"), std::string::npos);
  ASSERT_EQ(engine->requests().size(), 1u);
  EXPECT_EQ(engine->requests()[0].system_prompt, "Be brief.");
  EXPECT_EQ(engine->requests()[0].user_text(), "Why is the sky blue?");
  EXPECT_EQ(engine->requests()[0].phase, Phase::kForward);
}

TEST(Functions, ChainedCallsWaitForTheirInputs) {
  auto engine = testing::scripted_engine(/*delay_ms=*/20);
  LLMCall call(engine);
  Variable x("start", "input", false);
  Variable y = call(call(call(x)));
  y.wait();
  auto requests = engine->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].user_text(), testing::scripted_answer(requests[0]));
  EXPECT_EQ(requests[2].user_text(), testing::scripted_answer(requests[1]));
}

TEST(Functions, AFailedCallFailsItsConsumers) {
  auto engine = std::make_shared<ScriptedEngine>([](const Request&) -> std::string {
    throw EngineError(EngineErrorKind::kAuthentication, "wrong key: set OPENAI_API_KEY");
  });
  LLMCall call(engine);
  Variable answer = call(Variable("q", "question", false));
  Variable joined = sum({answer, Variable("x", "other")});
  EXPECT_THROW(answer.value(), EngineError);
  EXPECT_THROW(joined.value(), EngineError);
}

TEST(Functions, StringFunctionSeesSettledValues) {
  auto engine = testing::scripted_engine(/*delay_ms=*/30);
  LLMCall call(engine);
  Variable response = call(Variable("q", "question", false));
  StringBasedFunction exact(
      [](const Fields& inputs) {
        return inputs.at("prediction").value() == inputs.at("truth").value() ? "1" : "0";
      },
      "exact match");
  Variable score = exact({{"prediction", response}, {"truth", Variable("nope", "truth", false)}});
  EXPECT_EQ(score.value(), "0");
}

TEST(Modules, BlackboxLlmExposesItsSystemPrompt) {
  auto engine = ScriptedEngine::echo();
  Variable prompt("You are a tutor.", "system prompt", true);
  BlackboxLLM model(engine, prompt);
  ASSERT_EQ(model.parameters().size(), 1u);
  EXPECT_EQ(model.parameters()[0], prompt);
  BlackboxLLM frozen(engine, std::string("fixed"));
  EXPECT_FALSE(frozen.parameters()[0].requires_grad());
  EXPECT_TRUE(BlackboxLLM(engine).parameters().empty());
  EXPECT_EQ(model(Variable("hi", "greeting", false)).value(), "hi");
}

TEST(Losses, MultiFieldEvaluationLabelsLocallyAndKeepsRoles) {
  auto engine = ScriptedEngine::echo();
  Variable instruction("Compare.", "instruction", false);
  MultiFieldEvaluation eval(engine, instruction, {"prediction", "ground {truth}"});
  Variable p("4", "model answer");
  Variable t("5", "correct answer", false);
  Variable out = eval({p, t});
  EXPECT_EQ(out.value(), "Compare.\n**prediction**: 4\n**ground {truth}**: 5");
  EXPECT_EQ(p.role_description(), "model answer");
  EXPECT_EQ(t.role_description(), "correct answer");
  EXPECT_EQ(engine->requests()[0].phase, Phase::kLoss);
  EXPECT_THROW(eval({p}), InvalidArgument);
}

TEST(Losses, TokenParsedEvaluationParsesBetweenTags) {
  auto engine = std::make_shared<ScriptedEngine>(
      [](const Request&) { return "thinking... <ACCURACY> 1 </ACCURACY> done"; });
  MultiFieldTokenParsedEvaluation eval(engine, Variable("Judge.", "instruction", false), {"a", "b"},
                                       {"<ACCURACY>", "</ACCURACY>"});
  Variable out = eval({Variable("x", "x"), Variable("y", "y", false)});
  EXPECT_EQ(eval.parse_output(out), "1");
  EXPECT_THROW(eval.parse_output(Variable("no tags here", "evaluation")), ParseError);
}

TEST(Losses, MultiChoiceTestTimeSendsQuestionAndAnswer) {
  auto engine = ScriptedEngine::echo();
  MultiChoiceTestTime loss(engine, "Check the reasoning step by step.");
  Variable solution("Because ... Answer: C", "solution to the question");
  Variable out = loss("Which is right? A) 1 B) 2 C) 3 D) 4", solution);
  std::string sent = out.value();
  EXPECT_NE(sent.find("Check the reasoning step by step."), std::string::npos);
  EXPECT_NE(sent.find("Which is right?"), std::string::npos);
  EXPECT_NE(sent.find("Answer: C"), std::string::npos);
  EXPECT_EQ(out.role_description(), "evaluation of the solution to the question");
  EXPECT_FALSE(engine->requests()[0].system_prompt.empty());
}

}  // namespace
}  // namespace tg

namespace tg {
namespace {

// A slow string function must not hold up the thread that delivers answers.
TEST(Functions, SlowStringFunctionDoesNotBlockOtherAnswers) {
  auto engine = testing::scripted_engine(/*delay_ms=*/10);
  LLMCall call(engine);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> function_done{false};
  StringBasedFunction slow(
      [&](const Fields&) {
        released.wait_for(std::chrono::seconds(5));
        function_done = true;
        return std::string("done");
      },
      "waits for the test");
  Variable first = call(Variable("q1", "question", false));
  Variable score = slow({{"answer", first}});
  first.wait();
  Variable second = call(Variable("q2", "question", false));
  EXPECT_FALSE(second.value().empty());
  EXPECT_FALSE(function_done.load());  // the answer came while the function was still running
  release.set_value();
  EXPECT_EQ(score.value(), "done");
}

// Runs::kInline: an instant function runs where its last input settled, here the engine's
// delivery thread, instead of waking a shared worker; by default it runs on a worker.
TEST(Functions, AnInlineStringFunctionRunsWhereItsInputSettled) {
  auto engine = testing::scripted_engine(/*delay_ms=*/5);
  std::promise<std::thread::id> probe;
  engine->submit(Request::Text("probe", ""),
                 [&](Outcome) { probe.set_value(std::this_thread::get_id()); });
  const std::thread::id delivered_on = probe.get_future().get();
  auto thread_of = [&](StringBasedFunction::Runs runs) {
    std::thread::id ran_on;
    StringBasedFunction metric(
        [&](const Fields&) {
          ran_on = std::this_thread::get_id();
          return std::string("1");
        },
        "checks the answer", runs);
    Variable answer = LLMCall(engine)(Variable("q", "question", false));
    EXPECT_EQ(metric({{"answer", answer}}).value(), "1");
    return ran_on;
  };
  EXPECT_EQ(thread_of(StringBasedFunction::Runs::kInline), delivered_on);
  const std::thread::id worker = thread_of(StringBasedFunction::Runs::kOnWorker);
  EXPECT_NE(worker, delivered_on);
  EXPECT_NE(worker, std::this_thread::get_id());
}

}  // namespace
}  // namespace tg
