#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

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

// One loss per question "<prefix>0", "<prefix>1", ...: TextLoss of a model's answer under
// `prompt`.
std::vector<Variable> losses_of(const EnginePtr& engine, const Variable& prompt, int count,
                                const std::string& prefix, const std::string& role) {
  BlackboxLLM model(engine, prompt);
  std::vector<Variable> losses;
  for (int i = 0; i < count; ++i) {
    losses.push_back(
        TextLoss(engine, "Evaluate.")(model(Variable(prefix + std::to_string(i), role, false))));
  }
  return losses;
}

TEST(Backward, BaseModeWhenTheLossHasNoFeedback) {
  auto engine = testing::scripted_engine();
  Variable answer("The sum is 12.", "answer to the question");
  TextLoss loss_fn(engine, "Evaluate the answer.");
  Variable loss = loss_fn(answer);
  loss.backward(engine);
  auto backward = of_phase(*engine, Phase::kBackward);
  ASSERT_EQ(backward.size(), 1u);
  const std::string prompt = backward[0].user_text();
  EXPECT_TRUE(contains(prompt, "<ROLE>answer to the question</ROLE>"));
  EXPECT_TRUE(contains(prompt, "<LM_SYSTEM_PROMPT> Evaluate the answer. </LM_SYSTEM_PROMPT>"));
  EXPECT_TRUE(contains(prompt, "<LM_INPUT> The sum is 12. </LM_INPUT>"));
  EXPECT_TRUE(contains(prompt, "<LM_OUTPUT> " + loss.value() + " </LM_OUTPUT>"));
  EXPECT_TRUE(contains(prompt, "the only goal"));
  EXPECT_FALSE(contains(prompt, "downstream"));
  EXPECT_FALSE(backward[0].system_prompt.empty());
  ASSERT_EQ(answer.gradients().size(), 1u);
  const Gradient g = answer.gradients()[0];
  EXPECT_EQ(g.text, testing::scripted_answer(backward[0]));
  EXPECT_EQ(g.role, "feedback to answer to the question");
  ASSERT_EQ(g.contexts.size(), 1u);
  EXPECT_TRUE(contains(g.contexts[0].conversation, "<LM_INPUT> The sum is 12. </LM_INPUT>"));
  EXPECT_EQ(g.contexts[0].response_role, loss.role_description());
  EXPECT_EQ(g.contexts[0].variable_role, "answer to the question");
}

TEST(Backward, ChainModeCarriesDownstreamFeedback) {
  auto engine = testing::scripted_engine();
  Variable x("What is 2+2?", "question", true);
  LLMCall call(engine);  // no system prompt
  Variable y = call(x);
  Variable loss = TextLoss(engine, "Evaluate.")(y);
  loss.backward(engine);
  auto backward = of_phase(*engine, Phase::kBackward);
  ASSERT_EQ(backward.size(), 2u);  // loss -> y, then y -> x
  const std::string to_x = backward[1].user_text();
  EXPECT_TRUE(contains(to_x, "<ROLE>question</ROLE>"));
  EXPECT_TRUE(contains(to_x, y.gradients()[0].text));
  EXPECT_TRUE(contains(to_x, "downstream"));
  // Sent without a system prompt, shown without one (never a literal "None").
  EXPECT_FALSE(contains(to_x, "LM_SYSTEM_PROMPT> "));
  EXPECT_FALSE(contains(to_x, "None"));
  EXPECT_EQ(x.gradients().size(), 1u);
}

TEST(Backward, FrozenInputsGetNoCalls) {
  auto engine = testing::scripted_engine();
  Variable x("frozen", "input", false);
  Variable y = LLMCall(engine)(x);
  Variable loss = TextLoss(engine, "Evaluate.")(y);
  loss.backward(engine);
  EXPECT_EQ(of_phase(*engine, Phase::kBackward).size(), 1u);  // only loss -> y
  EXPECT_TRUE(x.gradients().empty());
  EXPECT_THROW(Variable("a", "b", false).backward(engine), InvalidArgument);
}

TEST(Backward, SumGivesEachPartItsFeedbackOnce) {
  auto engine = testing::scripted_engine();
  Variable a("first", "first part");
  Variable b("second", "second part");
  Variable total = sum({a, b});
  total.add_gradient("Both parts are too vague.");
  total.backward(engine);
  ASSERT_EQ(a.gradients().size(), 1u);
  ASSERT_EQ(b.gradients().size(), 1u);
  EXPECT_TRUE(contains(a.gradients()[0].text, "Both parts are too vague."));
  EXPECT_TRUE(contains(a.gradients()[0].text, "first part"));
  EXPECT_EQ(engine->calls(), 0);
}

TEST(Backward, LossesUnderASumRunInBaseMode) {
  auto engine = testing::scripted_engine();
  Variable answer("draft", "answer");
  Variable l1 = TextLoss(engine, "Is it correct?")(answer);
  Variable l2 = TextLoss(engine, "Is it concise?")(answer);
  sum({l1, l2}).backward(engine);
  auto backward = of_phase(*engine, Phase::kBackward);
  ASSERT_EQ(backward.size(), 2u);
  for (const Request& r : backward) EXPECT_FALSE(contains(r.user_text(), "downstream"));
  EXPECT_EQ(answer.gradients().size(), 2u);
}

TEST(Backward, AggregateFeedsEveryInputAndMergesTheGroup) {
  auto engine = testing::scripted_engine();
  Variable prompt("Solve it.", "system prompt", true);
  BlackboxLLM model(engine, prompt);
  std::vector<Variable> losses;
  std::vector<Variable> responses;
  for (int i = 0; i < 3; ++i) {
    responses.push_back(model(Variable("q" + std::to_string(i), "question", false)));
    losses.push_back(TextLoss(engine, "Evaluate.")(responses.back()));
  }
  Variable total = aggregate(losses);
  total.add_gradient("Answers are too long.");
  total.backward(engine);
  for (const Variable& loss : losses) EXPECT_EQ(loss.gradients().size(), 1u);
  for (const Variable& r : responses) EXPECT_EQ(r.gradients().size(), 1u);
  auto reduce = of_phase(*engine, Phase::kReduce);
  ASSERT_EQ(reduce.size(), 1u);
  const std::string merge = reduce[0].user_text();
  size_t pieces = 0;
  for (size_t at = merge.find("<FEEDBACK>"); at != std::string::npos;
       at = merge.find("<FEEDBACK>", at + 1))
    ++pieces;
  EXPECT_EQ(pieces, 3u);
  ASSERT_EQ(prompt.gradients().size(), 1u);
  EXPECT_EQ(prompt.gradients()[0].text, testing::scripted_answer(reduce[0]));
  EXPECT_EQ(prompt.gradients()[0].contexts.size(), 3u);  // contexts survive the merge
  prompt.zero_grad();
  EXPECT_TRUE(prompt.gradients().empty());
}

TEST(Backward, FailingNodeIsNamedAndTheGraphStaysUsable) {
  bool fail = true;
  auto engine = std::make_shared<ScriptedEngine>([&fail](const Request& r) {
    if (fail && r.phase == Phase::kBackward &&
        r.user_text().find("<ROLE>question") != std::string::npos) {
      throw EngineError(EngineErrorKind::kServer, "HTTP 500 from the server");
    }
    return testing::scripted_answer(r);
  });
  Variable x("What is 2+2?", "question", true);
  Variable y = LLMCall(engine)(x, "the answer");
  Variable loss = TextLoss(engine, "Evaluate.")(y);
  try {
    loss.backward(engine);
    FAIL() << "expected a BackwardError";
  } catch (const BackwardError& e) {
    EXPECT_TRUE(contains(e.what(), "LLMCall 'the answer'"));
    EXPECT_TRUE(contains(e.what(), "HTTP 500"));
    try {
      std::rethrow_if_nested(e);
      FAIL() << "the cause should be nested";
    } catch (const EngineError& cause) {
      EXPECT_EQ(cause.kind(), EngineErrorKind::kServer);
    }
  }
  fail = false;
  loss.backward(engine);
  EXPECT_EQ(x.gradients().size(), 1u);
  EXPECT_EQ(y.gradients().size(), 1u);
}

TEST(Backward, RepeatedBackwardReplacesInsteadOfDuplicating) {
  auto engine = testing::scripted_engine();
  Variable x("What is 2+2?", "question", true);
  Variable y = LLMCall(engine)(x);
  Variable loss = TextLoss(engine, "Evaluate.")(y);
  loss.backward(engine);
  loss.backward(engine);
  EXPECT_EQ(y.gradients().size(), 1u);
  EXPECT_EQ(x.gradients().size(), 1u);
}

TEST(Backward, FeedbackOrderFollowsTheGraphNotTiming) {
  // Answers to earlier samples arrive last, so completion order is the reverse of graph order.
  auto engine = std::make_shared<ScriptedEngine>([](const Request& r) {
    std::string user = r.user_text();
    for (int i = 0; i < 4; ++i) {
      if (r.phase == Phase::kBackward &&
          user.find("sample" + std::to_string(i)) != std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10 * (4 - i)));
      }
    }
    return testing::scripted_answer(r);
  });
  auto run = [&](int concurrency) {
    Variable prompt("Be helpful.", "system prompt", true);
    sum(losses_of(engine, prompt, 4, "sample", "q")).backward(engine, {.concurrency = concurrency});
    std::vector<std::string> texts;
    for (const Gradient& g : prompt.gradients()) texts.push_back(g.text);
    return texts;
  };
  auto sequential = run(1);
  auto concurrent = run(16);
  ASSERT_EQ(sequential.size(), 4u);
  EXPECT_EQ(sequential, concurrent);
}

// Note [Continue on this thread]: each link of a chain becomes ready when the one after it has
// given its feedback, on the thread that ran that link, which goes on with it instead of
// handing it to another thread. A chain longer than the nesting cap still completes in order.
TEST(Backward, AChainsFeedbackCallsStayOnOneThread) {
  std::mutex mu;
  std::set<std::thread::id> threads;
  auto engine = std::make_shared<ScriptedEngine>([&](const Request& r) {
    if (r.phase == Phase::kBackward) {
      std::lock_guard lock(mu);
      threads.insert(std::this_thread::get_id());
    }
    return testing::scripted_answer(r);
  });
  auto chain = [&](int links) {
    Variable x("start", "first text", true);
    std::vector<Variable> keep{x};
    for (int i = 0; i < links; ++i) keep.push_back(LLMCall(engine)(keep.back()));
    TextLoss(engine, "Evaluate.")(keep.back()).backward(engine, {.concurrency = 4});
    return x.gradients().size();
  };
  EXPECT_EQ(chain(8), 1u);
  EXPECT_EQ(threads.size(), 1u);  // 9 feedback calls, one after another, on one thread

  threads.clear();
  EXPECT_EQ(chain(100), 1u);  // deeper than the cap: queued every 32 links, still complete
  EXPECT_EQ(engine->requests().size(), 9u * 2 + 101u * 2);
}

// Note [Feedback as a continuation]: with an engine that answers on its own thread, the
// backward caller sends the first feedback request and each later one is sent from the answer
// before it, on the engine's thread: no thread of ours waits for an answer in between.
TEST(Backward, FeedbackRequestsAreSentFromTheAnswerBefore) {
  std::mutex mu;
  std::vector<std::thread::id> senders;
  auto engine = std::make_shared<ScriptedEngine>(
      [&](const Request& r) {
        if (r.phase == Phase::kBackward) {
          std::lock_guard lock(mu);
          senders.push_back(std::this_thread::get_id());
        }
        return testing::scripted_answer(r);
      },
      ScriptedEngine::Options{.delay = std::chrono::milliseconds(2)});
  Variable x("start", "first text", true);
  std::vector<Variable> keep{x};
  for (int i = 0; i < 5; ++i) keep.push_back(LLMCall(engine)(keep.back()));
  Variable loss = TextLoss(engine, "Evaluate.")(keep.back());
  loss.value();
  loss.backward(engine);
  EXPECT_EQ(x.gradients().size(), 1u);
  ASSERT_EQ(senders.size(), 6u);  // the loss's call, then one per link
  EXPECT_EQ(senders.front(), std::this_thread::get_id());
  const std::set<std::thread::id> later(senders.begin() + 1, senders.end());
  EXPECT_EQ(later.size(), 1u);
  EXPECT_EQ(later.count(std::this_thread::get_id()), 0u);
}

// Note [Waiting for the forward pass]: backward() called while the forward calls are still
// answering sends each node's feedback request from the thread that settles the node's value:
// neither the caller nor a worker of the group waits for a value to send it.
TEST(Backward, FeedbackForAPendingValueIsSentWhereTheValueSettles) {
  std::mutex mu;
  std::vector<std::thread::id> feedback_senders;
  auto engine = std::make_shared<ScriptedEngine>(
      [&](const Request& r) {  // runs in submit(), on the sending thread
        if (r.phase == Phase::kBackward) {
          std::lock_guard lock(mu);
          feedback_senders.push_back(std::this_thread::get_id());
        }
        return testing::scripted_answer(r);
      },
      ScriptedEngine::Options{.delay = std::chrono::milliseconds(50)});
  Variable prompt("Be helpful.", "system prompt", true);
  Variable total = sum(losses_of(engine, prompt, 3, "q", "q"));
  total.backward(engine);  // the forward calls are still in flight
  EXPECT_EQ(prompt.gradients().size(), 3u);
  ASSERT_EQ(feedback_senders.size(), 6u);  // per item: the loss's call, then the answer's
  const std::set<std::thread::id> senders(feedback_senders.begin(), feedback_senders.end());
  EXPECT_EQ(senders.size(), 1u) << "all from the engine's delivering thread";
  EXPECT_EQ(senders.count(std::this_thread::get_id()), 0u);
}

// Submitted feedback jobs keep BackwardOptions::concurrency as queued jobs of the task group
// did, and use it.
TEST(Backward, SubmittedFeedbackKeepsTheConcurrencyBound) {
  auto engine = std::make_shared<ScriptedEngine>(
      testing::scripted_answer, ScriptedEngine::Options{.delay = std::chrono::milliseconds(50)});
  Variable prompt("Be helpful.", "system prompt", true);
  Variable total = sum(losses_of(engine, prompt, 8, "q", "q"));
  total.value();
  engine->reset();
  total.backward(engine, {.concurrency = 3});
  EXPECT_EQ(prompt.gradients().size(), 8u);
  EXPECT_EQ(engine->requests().size(), 16u);
  EXPECT_EQ(engine->peak_in_flight(), 3);
}

// A merge of aggregated feedback makes a blocking LLM call. When the answer that makes the
// merging node ready arrives on the engine's own thread, the merge must move to another
// thread: run there, it would wait for an answer that thread itself has to deliver.
TEST(Backward, AMergeAfterAnAnswerOnTheEnginesThreadDoesNotWaitOnIt) {
  auto engine = std::make_shared<ScriptedEngine>(
      testing::scripted_answer, ScriptedEngine::Options{.delay = std::chrono::milliseconds(2)});
  Variable prompt("Solve it.", "system prompt", true);
  Variable total = aggregate(losses_of(engine, prompt, 3, "q", "question"));
  total.add_gradient("Answers are too long.");
  total.backward(engine);
  ASSERT_EQ(prompt.gradients().size(), 1u);
  EXPECT_EQ(of_phase(*engine, Phase::kReduce).size(), 1u);
}

TEST(Backward, CustomTemplatesAreUsed) {
  auto engine = testing::scripted_engine();
  auto prompts = std::make_shared<Prompts>();
  prompts->set("backward_base", "CUSTOM feedback please for {role}: {value}");
  Variable answer("draft", "answer");
  TextLoss(engine, "Evaluate.")(answer).backward(engine, {.prompts = prompts});
  EXPECT_EQ(of_phase(*engine, Phase::kBackward)[0].user_text(),
            "CUSTOM feedback please for answer: draft");
}

TEST(Backward, StringFunctionFeedbackShowsPurposeAndInputs) {
  auto engine = testing::scripted_engine();
  Variable prediction("Answer: 5", "prediction");
  Variable truth("4", "ground truth", false);
  StringBasedFunction metric([](const Fields&) { return std::string("0"); }, "checks the answer");
  Variable score = metric({{"prediction", prediction}, {"ground_truth_answer", truth}});
  score.backward(engine);
  auto backward = of_phase(*engine, Phase::kBackward);
  ASSERT_EQ(backward.size(), 1u);
  const std::string prompt = backward[0].user_text();
  EXPECT_TRUE(contains(prompt, "checks the answer"));
  EXPECT_TRUE(contains(prompt, "**Ground truth answer** (role: ground truth): 4"));
  EXPECT_TRUE(contains(prompt, "<OUTPUT_OF_FUNCTION> 0 </OUTPUT_OF_FUNCTION>"));
  EXPECT_EQ(prediction.gradients().size(), 1u);
}

}  // namespace
}  // namespace tg

namespace tg {
namespace {

TEST(Backward, MultiChoiceTestTimeCostsOneFeedbackCall) {
  auto engine = testing::scripted_engine();
  Variable solution("Reasoning... Answer: B", "solution to the multiple-choice question");
  MultiChoiceTestTime loss_fn(engine, "Check each step for critical mistakes.");
  loss_fn("Which? A) 1 B) 2 C) 3 D) 4", solution).backward(engine);
  EXPECT_EQ(engine->calls(), 2);  // the loss and one feedback call
  EXPECT_EQ(solution.gradients().size(), 1u);
}

TEST(Backward, TrainableEvaluationInstructionGetsFeedbackToo) {
  auto engine = testing::scripted_engine();
  Variable answer("draft", "answer");
  Variable instruction("Evaluate the answer.", "evaluation instruction", true);
  TextLoss(engine, instruction)(answer).backward(engine);
  EXPECT_EQ(engine->calls(), 3);  // the loss and two independent feedback calls
  EXPECT_EQ(answer.gradients().size(), 1u);
  EXPECT_EQ(instruction.gradients().size(), 1u);
}

}  // namespace
}  // namespace tg
