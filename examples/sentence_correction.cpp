// Fix a sentence with an evaluation instruction as the loss.
//   example_sentence_correction [ENGINE]
#include <iostream>

#include "example_engine.h"
#include "textgrad/textgrad.h"

int main(int argc, char** argv) {
  tg::EnginePtr engine = examples::example_engine(argc, argv);
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
