// The README quick start: improve an LLM's answer to a reasoning question.
//   example_shirts_question [ENGINE]
#include <iostream>

#include "example_engine.h"
#include "textgrad/textgrad.h"

namespace {

// What a model might answer offline (see example_engine.h).
std::string offline_answer(const tg::Request& request) {
  switch (request.phase) {
    case tg::Phase::kForward:
      return "Drying time is proportional: 25 shirts take 1 hour, so 30 shirts take 1.2 hours.";
    case tg::Phase::kLoss:
      return "The reasoning assumes drying time grows with the number of shirts. Shirts dry in "
             "parallel under the sun, so the time does not depend on how many there are.";
    case tg::Phase::kBackward:
      return "The answer treats drying as sequential. State that shirts dry in parallel, so 30 "
             "shirts still take about 1 hour, given enough space in the sun.";
    case tg::Phase::kUpdate:
      return "<IMPROVED_VARIABLE>It still takes about 1 hour: the shirts dry in parallel, as "
             "long as all 30 fit in the sun.</IMPROVED_VARIABLE>";
    default:
      return "ok";
  }
}

}  // namespace

int main(int argc, char** argv) {
  tg::EnginePtr engine = examples::example_engine(argc, argv, offline_answer);
  const std::string question_text =
      "If it takes 1 hour to dry 25 shirts under the sun, how long will it take to dry 30 "
      "shirts under the sun? Reason step by step";
  tg::Variable question(question_text, "question to the LLM", /*requires_grad=*/false);
  tg::BlackboxLLM model(engine);
  tg::Variable answer = model(question);
  std::cout << "Initial answer: " << answer.value() << "\n\n";

  answer.set_role_description("concise and accurate answer to the question");
  tg::TGD optimizer({answer}, engine);
  tg::TextLoss loss_fn(engine, "Here's a question: " + question_text +
                                   ". Evaluate any given answer to this question, be smart, "
                                   "logical, and very critical. Just provide concise feedback.");
  tg::Variable loss = loss_fn(answer);
  std::cout << "Loss: " << loss.value() << "\n\n";
  loss.backward(engine);
  optimizer.step();
  std::cout << "Improved answer: " << answer.value() << "\n";
}
