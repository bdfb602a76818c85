// The fake server the tests and benchmarks talk to: what it keeps of the requests it serves,
// and the answers it writes.
#include "support/fake_llm_server.h"

#include <gtest/gtest.h>

#include <future>

#include <nlohmann/json.hpp>

#include "http/transport.h"

namespace tg::fake {
namespace {

void send_one(http::Transport& transport, const std::string& url) {
  http::HttpRequest request;
  request.url = url;
  request.body = "{}";
  std::promise<void> done;
  transport.send(request, [&done](http::TransportResult) { done.set_value(); });
  done.get_future().wait();
}

TEST(FakeLlmServer, ALongRunningServerCountsRequestsWithoutKeepingThem) {
  FakeLlmServer server;
  http::Transport transport;
  send_one(transport, server.base_url() + "/v1/chat/completions");
  server.set_keep_requests(false);
  send_one(transport, server.base_url() + "/v1/chat/completions");
  send_one(transport, server.base_url() + "/v1/chat/completions");

  EXPECT_EQ(server.request_count(), 3u);
  ASSERT_EQ(server.requests().size(), 1u);  // only the one received while keeping
  EXPECT_EQ(server.requests().at(0).index, 0);
}

// openai_reply() writes its body without building a document: it must still be the document
// an OpenAI server sends, with nlohmann's own bytes for it.
TEST(FakeLlmServer, OpenAiReplyIsTheDocumentOfAChatCompletion) {
  const std::string text = "Line one\nsays \"4\" \xc3\xa9\x01";
  const FakeReply reply = openai_reply(text, {1234, 56, 7}, "length", "model-x");
  const nlohmann::json expected = {
      {"id", "chatcmpl-fake"},
      {"object", "chat.completion"},
      {"created", 1700000000},
      {"model", "model-x"},
      {"choices",
       nlohmann::json::array(
           {{{"index", 0},
             {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
             {"finish_reason", "length"},
             {"logprobs", nullptr}}})},
      {"usage",
       {{"prompt_tokens", 1234},
        {"completion_tokens", 56},
        {"total_tokens", 1290},
        {"prompt_tokens_details", {{"cached_tokens", 7}}}}}};
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, expected.dump());
}

}  // namespace
}  // namespace tg::fake
