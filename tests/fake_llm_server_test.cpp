// The fake server the tests and benchmarks talk to: what it keeps of the requests it serves.
#include "support/fake_llm_server.h"

#include <gtest/gtest.h>

#include <future>

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

}  // namespace
}  // namespace tg::fake
