// A mock language model behind the OpenAI wire format, for end-to-end tests and the offline
// demo: it counts right once its system prompt has been improved, wrong for some items
// before, and not at all for a few; it gives feedback, improves prompts (sometimes forgetting
// its tags) and judges (sometimes forgetting its tags). Answers depend only on the request.
#pragma once

#include <map>
#include <string>

#include "support/fake_llm_server.h"

namespace tg::testing {

class MockModel {
 public:
  // `model` is the name the answers give as their model.
  explicit MockModel(const std::string& data_dir, int delay_ms = 0,
                     std::string model = "gpt-4o-mini");
  fake::FakeReply operator()(const fake::RecordedRequest& request) const;

 private:
  std::string forward_answer(const std::string& system, const std::string& user,
                             std::uint64_t hash) const;
  int delay_ms_;
  std::string model_;
  std::map<std::string, std::string> targets_;  // question -> correct answer
};

}  // namespace tg::testing
