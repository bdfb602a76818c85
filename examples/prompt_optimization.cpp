// Optimize a system prompt on a small batch with a string metric, as in the paper's prompt
// optimization (batch of 3, sum of per-item losses, one TGD step per batch).
//   example_prompt_optimization [ENGINE]
#include <iostream>

#include "example_engine.h"
#include "textgrad/textgrad.h"

namespace {

// What a model might answer offline (see example_engine.h): the fruit question is answered
// wrong (the carrot is counted), so the metric fails it and the prompt gets feedback.
std::string offline_answer(const tg::Request& request) {
  const std::string user = request.user_text();
  switch (request.phase) {
    case tg::Phase::kForward:
      if (user.find("chair") != std::string::npos) return "1 + 2 + 1 = 4.\nAnswer: 4";
      if (user.find("flute") != std::string::npos) return "1 + 1 + 3 = 5.\nAnswer: 5";
      return "Two apples, a banana and a carrot: 2 + 1 + 1 = 4.\nAnswer: 4";
    case tg::Phase::kBackward:
      return "The model counted every item it was given, including the carrot, which is a "
             "vegetable. The prompt should tell it to keep only the items of the category the "
             "question asks about before adding.";
    case tg::Phase::kReduce:
      return "Check each item's category before counting it.";
    case tg::Phase::kUpdate:
      return "<IMPROVED_VARIABLE>You will answer a counting question. List each item with its "
             "quantity, keep only the items that belong to the category asked about, add them "
             "up, and end with the line 'Answer: $VALUE' where VALUE is a number."
             "</IMPROVED_VARIABLE>";
    default:
      return "ok";
  }
}

}  // namespace

int main(int argc, char** argv) {
  tg::EnginePtr engine = examples::example_engine(argc, argv, offline_answer);
  tg::Variable system_prompt(
      "You will answer a reasoning question. Think step by step. The last line of your "
      "response should be of the following format: 'Answer: $VALUE' where VALUE is a numerical "
      "value.",
      "structured system prompt to a somewhat capable language model that specifies the "
      "behavior and strategies for the QA task",
      /*requires_grad=*/true);
  tg::BlackboxLLM model(engine, system_prompt);
  tg::TGD optimizer(model.parameters(), engine);
  tg::StringBasedFunction exact_match(
      [](const tg::Fields& inputs) {
        std::string prediction = inputs.at("prediction").value();
        std::string truth = inputs.at("ground_truth_answer").value();
        return std::string(prediction.ends_with("Answer: " + truth) ? "1" : "0");
      },
      "The runtime of string-based function that checks if the prediction is correct.");

  const std::vector<std::pair<std::string, std::string>> batch = {
      {"I have a chair, two tables, and a couch. How many objects do I have?", "4"},
      {"I have a flute, a piano, and three violins. How many musical instruments do I have?", "5"},
      {"I have two apples, a banana, and a carrot. How many fruits do I have?", "3"},
  };
  optimizer.zero_grad();
  std::vector<tg::Variable> losses;
  for (const auto& [question, answer] : batch) {
    tg::Variable x(question, "query to the language model", false);
    tg::Variable y(answer, "correct answer for the query", false);
    tg::Variable response = model(x);  // sent at once; the three calls overlap
    losses.push_back(exact_match({{"prediction", response}, {"ground_truth_answer", y}}));
  }
  tg::sum(losses).backward(engine);
  optimizer.step();
  std::cout << "New system prompt:\n" << system_prompt.value() << "\n";
}
