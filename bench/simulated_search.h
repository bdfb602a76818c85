// The simulated counting task of simulated_task.h as a tg::SearchTask. Parameters: "system",
// the forward model's system prompt, or "system" and "checks", joined by a newline into it
// (two parameters, so that merges have something to combine). A run asks the forward model once
// (one metric call); a wrong answer gets a loss graph (metric -> answer -> prompt) for feedback, a
// right one none, so feedback comes from failed items only.
#pragma once

#include <atomic>
#include <memory>

#include "simulated_task.h"
#include "textgrad/textgrad.h"

namespace tg::sim {

class SimulatedSearchTask : public SearchTask {
 public:
  SimulatedSearchTask(std::shared_ptr<const SimulatedTask> task, EnginePtr engine)
      : task_(std::move(task)),
        engine_(std::move(engine)),
        train_(task_->train()),
        val_(task_->val()),
        metric_(
            [](const Fields& in) {
              return std::string(
                  in.at("answer").value().ends_with("Answer: " + in.at("target").value()) ? "1"
                                                                                          : "0");
            },
            "checks whether the answer's final count equals the target") {}

  std::size_t train_size() const override { return train_.size(); }
  std::size_t val_size() const override { return val_.size(); }

  Rollout run(const std::map<std::string, Variable>& parameters, Split split,
              std::size_t index) const override {
    ++runs_;
    const auto& item = (split == Split::kTrain ? train_ : val_).at(index);
    auto checks = parameters.find("checks");
    BlackboxLLM model(engine_, checks == parameters.end()
                                   ? parameters.at("system")
                                   : parameters.at("system") + checks->second);
    Variable answer = model(Variable(item.question, "question", false));
    Variable loss =
        metric_({{"answer", answer}, {"target", Variable(item.target, "target", false)}});
    const bool right = loss.value() == "1";
    return {right ? 1.0 : 0.0, right ? Variable() : loss};
  }

  // run() calls so far (every metric call, counted where it happens).
  int runs() const { return runs_.load(); }

 private:
  std::shared_ptr<const SimulatedTask> task_;
  EnginePtr engine_;
  std::vector<SimulatedTask::Item> train_, val_;
  StringBasedFunction metric_;
  mutable std::atomic<int> runs_{0};
};

}  // namespace tg::sim
