#include "support/mock_model.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "support/workloads.h"
#include "textgrad/data.h"

namespace tg::testing {
namespace {

using nlohmann::json;

std::string system_of(const json& body) {
  const json& first = body["messages"][0];
  return first["role"] == "system" ? first["content"].get<std::string>() : std::string();
}

std::string user_of(const json& body) {
  const json& last = body["messages"].back();
  return last["content"].is_string() ? last["content"].get<std::string>() : last["content"].dump();
}

}  // namespace

MockModel::MockModel(const std::string& data_dir, int delay_ms, std::string model)
    : delay_ms_(delay_ms), model_(std::move(model)) {
  for (const char* task : {"object_counting", "word_sorting"}) {
    Splits splits = load_builtin_task(task, data_dir);
    for (const auto* split : {&splits.train, &splits.val, &splits.test}) {
      for (const Example& e : *split) targets_[e.input] = e.target;
    }
  }
}

fake::FakeReply MockModel::operator()(const fake::RecordedRequest& request) const {
  const json body = request.json();
  const std::string system = system_of(body);
  const std::string user = user_of(body);
  const std::uint64_t h = fnv1a(user);
  std::string text;
  if (system.find("feedback engine") != std::string::npos) {
    text = "Count every item explicitly before answering.";
  } else if (system.find("optimization system that improves text") != std::string::npos) {
    text = h % 5 == 0 ? std::string("I would improve it by counting carefully.")
                      : "<IMPROVED_VARIABLE>IMPROVED prompt " + std::to_string(h % 1000) +
                            ": list each item with its quantity, add them up, and end with "
                            "'Answer: $VALUE'.</IMPROVED_VARIABLE>";
  } else if (user.find("<ACCURACY>") != std::string::npos) {
    text =
        h % 6 == 0 ? "It matches." : (h % 2 ? "<ACCURACY>1</ACCURACY>" : "<ACCURACY>0</ACCURACY>");
  } else {
    text = forward_answer(system, user, h);
  }
  fake::FakeReply reply = fake::openai_reply(text, {40, 10, 0}, "stop", model_);
  return reply.with_delay(std::chrono::milliseconds(delay_ms_));
}

std::string MockModel::forward_answer(const std::string& system, const std::string& user,
                                      std::uint64_t h) const {
  auto it = targets_.find(user);
  const std::string truth = it == targets_.end() ? "7" : it->second;
  if (system.find("IMPROVED") != std::string::npos) return "Counting... Answer: " + truth;
  if (h % 7 == 0) return "I cannot count these.";
  return h % 2 ? "Answer: " + truth : "Answer: 999";
}

}  // namespace tg::testing
