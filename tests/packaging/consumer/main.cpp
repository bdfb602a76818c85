// Uses the installed library: a solution-optimization step on a scripted engine, and the
// built-in data found from wherever the install now lies.
#include <iostream>

#include "textgrad/data.h"
#include "textgrad/textgrad.h"

int main() {
  auto engine = std::make_shared<tg::ScriptedEngine>([](const tg::Request& request) {
    return request.phase == tg::Phase::kUpdate
               ? std::string("<IMPROVED_VARIABLE>It takes 1 hour.</IMPROVED_VARIABLE>")
               : std::string("The shirts dry in parallel.");
  });
  tg::Variable answer("It takes 1.2 hours.", "answer to the shirts question");
  tg::TGD optimizer({answer}, engine);
  tg::TextLoss(engine, "Evaluate the answer.")(answer).backward(engine);
  optimizer.step();
  tg::Splits splits = tg::load_builtin_task("object_counting");
  std::cout << "calls=" << engine->calls() << " answer=" << answer.value()
            << " train=" << splits.train.size() << " data=" << tg::find_data_dir() << "\n";
  return answer.value() == "It takes 1 hour." && engine->calls() == 3 ? 0 : 1;
}
