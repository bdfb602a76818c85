// Fix a sentence with an evaluation instruction as the loss.
//   example_sentence_correction [ENGINE]
#include <iostream>

#include "example_engine.h"
#include "textgrad/textgrad.h"

namespace {

constexpr const char* kCorrected =
    "There is something about this sentence that is not quite right.";

// What a model might answer offline (see example_engine.h): the critique depends on whether
// the sentence still has its misspellings.
std::string offline_answer(const tg::Request& request) {
  const bool misspelled = request.user_text().find("somtin") != std::string::npos;
  switch (request.phase) {
    case tg::Phase::kLoss:
      return misspelled ? "Four spelling mistakes: 'Tre' (There), 'somtin' (something), "
                          "'sentance' (sentence) and 'tha tis' (that is)."
                        : "The sentence is spelled correctly and reads naturally.";
    case tg::Phase::kBackward:
      return misspelled ? "Correct the four misspelled words; keep the meaning and the word order."
                        : "No change is needed.";
    case tg::Phase::kUpdate:
      return std::string("<IMPROVED_VARIABLE>") + kCorrected + "</IMPROVED_VARIABLE>";
    default:
      return "ok";
  }
}

}  // namespace

int main(int argc, char** argv) {
  tg::EnginePtr engine = examples::example_engine(argc, argv, offline_answer);
  tg::Variable sentence("Tre is somtin about this sentance tha tis not quite right.",
                        "the input sentence", /*requires_grad=*/true);
  tg::Variable instruction("Evaluate the correctness of this sentence",
                           "system prompt for the evaluation", /*requires_grad=*/false);
  tg::TextLoss loss_fn(engine, instruction);
  tg::TGD optimizer({sentence}, engine);
  for (int step = 0; step < 2; ++step) {
    optimizer.zero_grad();
    tg::Variable loss = loss_fn(sentence);
    loss.backward(engine);
    tg::StepReport report = optimizer.step();
    std::cout << "Step " << step + 1 << ": " << sentence.value() << "\n";
    for (const auto& outcome : report.outcomes) {
      if (!outcome.reason.empty()) std::cout << "  note: " << outcome.reason << "\n";
    }
  }
}
