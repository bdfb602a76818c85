// The core's three workloads end to end through make_engine, the real codecs and the
// transport, against a local server speaking each provider's wire format.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/fake_llm_server.h"
#include "support/workloads.h"
#include "textgrad/engines.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

// The system prompt of a request, whatever the dialect.
std::string system_of(const fake::RecordedRequest& request) {
  nlohmann::json body = request.json();
  switch (fake::dialect_of(request)) {
    case fake::Dialect::kOpenAI:
      return body["messages"][0]["role"] == "system"
                 ? body["messages"][0]["content"].get<std::string>()
                 : "";
    case fake::Dialect::kAnthropic:
      return body.value("system", "");
    case fake::Dialect::kGemini:
      return body.contains("systemInstruction")
                 ? body["systemInstruction"]["parts"][0]["text"].get<std::string>()
                 : "";
  }
  return "";
}

fake::FakeReply answer(const fake::RecordedRequest& request) {
  const std::string system = system_of(request);
  if (system.find("optimization system that improves text") != std::string::npos) {
    return fake::reply_for(request, "<IMPROVED_VARIABLE>better value</IMPROVED_VARIABLE>");
  }
  if (request.body.find("ACCURACY") != std::string::npos)
    return fake::reply_for(request, "<ACCURACY>1</ACCURACY>");
  if (system.find("feedback engine") != std::string::npos)
    return fake::reply_for(request, "Be more explicit.");
  return fake::reply_for(request, "Reasoning. Answer: 4");
}

struct Case {
  const char* engine;
  const char* base_suffix;
};

class ProviderWorkloadTest : public ::testing::TestWithParam<Case> {
 protected:
  EnginePtr engine(fake::FakeLlmServer& server) const {
    EngineOptions options;
    options.api_key = "fake-workload-key-0123456789";
    options.base_url = server.base_url() + GetParam().base_suffix;
    return make_engine(GetParam().engine, options);
  }
};

TEST_P(ProviderWorkloadTest, WorkloadsMakeTheReferenceNumberOfCalls) {
  fake::FakeLlmServer server(answer);
  EnginePtr e = engine(server);
  testing::run_solution_workload(e, {.steps = 1});
  EXPECT_EQ(server.request_count(), 3u);
  testing::run_prompt_workload(e, {.steps = 1});
  EXPECT_EQ(server.request_count(), 3u + 10u);
  EXPECT_EQ(testing::run_prompt_workload(e, {.steps = 1, .llm_judge = true}), "better value");
  EXPECT_EQ(server.request_count(), 3u + 10u + 13u);
  testing::run_chain_workload(e, {.steps = 1});
  EXPECT_EQ(server.request_count(), 3u + 10u + 13u + 9u);
  std::optional<EngineStats> stats = engine_stats(*e);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->succeeded, 35);
  EXPECT_GT(stats->usage.input_tokens, 0);
  EXPECT_GT(stats->usage_by_phase.at(Phase::kBackward).input_tokens, 0);
}

INSTANTIATE_TEST_SUITE_P(Providers, ProviderWorkloadTest,
                         ::testing::Values(Case{"openai/gpt-4o", "/v1"},
                                           Case{"anthropic/claude-sonnet-4-5", ""},
                                           Case{"gemini/gemini-2.5-flash", ""}),
                         [](const auto& info) {
                           std::string name = info.param.engine;
                           return name.substr(0, name.find('/'));
                         });

}  // namespace
}  // namespace tg
