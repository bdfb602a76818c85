// The README quick start: improve an LLM's answer to a reasoning question.
//   example_shirts_question [ENGINE]
#include <iostream>

#include "example_engine.h"
#include "textgrad/textgrad.h"

int main(int argc, char** argv) {
  tg::EnginePtr engine = examples::example_engine(argc, argv);
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
