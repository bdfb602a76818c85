// The bee walkthrough: answer a question about an image, criticize the answer with an
// image-grounded loss, and improve it.
//   example_image_question [ENGINE [IMAGE]]
#include <iostream>

#include "example_engine.h"
#include "textgrad/textgrad.h"

namespace {

// What a model might answer offline (see example_engine.h).
std::string offline_answer(const tg::Request& request) {
  switch (request.phase) {
    case tg::Phase::kForward:
      return "This image shows a bee.";
    case tg::Phase::kLoss:
      return "The answer names the insect but says nothing about the flowers, the pollen on its "
             "legs, or the setting.";
    case tg::Phase::kBackward:
      return "Describe what the bee is doing and where: the flowers it visits and the pollen it "
             "carries.";
    case tg::Phase::kUpdate:
      return "<IMPROVED_VARIABLE>A honeybee gathers pollen on a cluster of small flowers; pollen "
             "is packed on its hind legs.</IMPROVED_VARIABLE>";
    default:
      return "ok";
  }
}

}  // namespace

int main(int argc, char** argv) {
  tg::EnginePtr engine = examples::example_engine(argc, argv, offline_answer);
  const std::string path = argc > 2 ? argv[2] : TEXTGRAD_EXAMPLE_IMAGE;
  tg::Variable image = tg::Variable::image_file(path, "image to answer a question about");
  tg::Variable question("What do you see in this image?", "question", /*requires_grad=*/false);
  tg::Variable response = tg::MultimodalLLMCall(engine)({image, question});
  std::cout << "Answer: " << response.value() << "\n\n";

  response.set_role_description("answer to the question about the image");
  tg::ImageQALoss loss_fn(engine,
                          "Does this seem like a complete and good answer for the image? "
                          "Criticize. Do not provide a new answer.");
  tg::Variable loss = loss_fn(question, image, response);
  std::cout << "Critique: " << loss.value() << "\n\n";

  tg::TGD optimizer({response}, engine);
  loss.backward(engine);
  optimizer.step();
  std::cout << "Improved answer: " << response.value() << "\n";
}
