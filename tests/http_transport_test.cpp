// The libcurl transport against a local fake server: statuses, errors, timeouts,
// concurrency, delayed sends, idle and closed connections, and shutdown.
#include "http/transport.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/fake_llm_server.h"

namespace tg::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using fake::FakeLlmServer;
using fake::FakeReply;
using fake::RecordedRequest;

HttpRequest post(const std::string& url, std::string body = "{}") {
  HttpRequest request;
  request.url = url;
  request.body = std::move(body);
  request.headers = {{"Content-Type", "application/json"}};
  request.connect_timeout_s = 5;
  request.total_timeout_s = 10;
  return request;
}

// Sends and waits; the test thread is not the I/O thread, so waiting here is fine.
TransportResult send_and_wait(Transport& transport, HttpRequest request,
                              std::chrono::milliseconds delay = 0ms) {
  std::promise<TransportResult> promise;
  auto future = promise.get_future();
  transport.send(
      std::move(request),
      [&promise](TransportResult result) { promise.set_value(std::move(result)); }, delay);
  return future.get();
}

// A port nobody listens on: a server's port right after the server stopped.
int closed_port() {
  FakeLlmServer server;
  return server.port();
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

TEST(HttpTransportTest, PostsBodyAndHeadersAndReturnsTheResponse) {
  FakeLlmServer server([](const RecordedRequest&) {
    FakeReply reply;
    reply.status = 201;
    reply.body = R"({"answer":42})";
    return reply.with_header("X-Request-Id", "req-7");
  });
  Transport transport;
  HttpRequest request = post(server.base_url() + "/v1/chat/completions?x=1", R"({"q":1})");
  request.headers.emplace_back("Authorization", "Bearer abc");
  const TransportResult result = send_and_wait(transport, request);

  ASSERT_TRUE(result.ok()) << result.error->message;
  EXPECT_EQ(result.response.status, 201);
  EXPECT_EQ(result.response.body, R"({"answer":42})");
  EXPECT_EQ(result.response.header("x-request-id"), "req-7");
  EXPECT_EQ(result.response.header("X-REQUEST-ID"), "req-7");
  EXPECT_EQ(result.response.header("absent"), "");
  EXPECT_GT(result.response.elapsed_ms, 0);

  const std::vector<RecordedRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/v1/chat/completions");
  EXPECT_EQ(seen[0].query, "x=1");
  EXPECT_EQ(seen[0].body, R"({"q":1})");
  EXPECT_EQ(seen[0].header("authorization"), "Bearer abc");
  EXPECT_EQ(seen[0].header("content-type"), "application/json");
  EXPECT_EQ(seen[0].header("expect"), "");
}

// Answers may come gzip-compressed (asked for with "Accept-Encoding: gzip", the one encoding
// every API server speaks); the transport hands over the decoded body.
TEST(HttpTransportTest, AsksForGzipAndDecodesIt) {
  const std::string answer = R"({"text":")" + std::string(4000, 'a') + R"("})";
  FakeLlmServer server([&answer](const RecordedRequest&) {
    FakeReply reply;
    reply.body = answer;
    reply.content_type = "application/json";  // without a charset, cpp-httplib compresses
    return reply;
  });
  Transport transport;
  const TransportResult result = send_and_wait(transport, post(server.base_url() + "/v1/x"));

  ASSERT_TRUE(result.ok()) << result.error->message;
  EXPECT_EQ(server.requests().at(0).header("accept-encoding"), "gzip");
  EXPECT_EQ(result.response.header("content-encoding"), "gzip");
  EXPECT_EQ(result.response.body, answer);
}

TEST(HttpTransportTest, ErrorStatusesAreResponsesNotTransportErrors) {
  FakeLlmServer server([](const RecordedRequest&) { return fake::non_json_body(503); });
  Transport transport;
  const TransportResult result = send_and_wait(transport, post(server.base_url() + "/x"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.response.status, 503);
  EXPECT_NE(result.response.body.find("Bad Gateway"), std::string::npos);
}

TEST(HttpTransportTest, GetRequestsWork) {
  FakeLlmServer server;
  Transport transport;
  HttpRequest request = post(server.base_url() + "/v1/models", "");
  request.method = "GET";
  const TransportResult result = send_and_wait(transport, request);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(server.requests().at(0).method, "GET");
}

// Note [Reusing easy handles]: one request at a time, so one pooled handle serves them all,
// and none may inherit its predecessor's method, body, headers or timeout.
TEST(HttpTransportTest, AReusedHandleKeepsNothingOfItsLastTransfer) {
  FakeLlmServer server([](const RecordedRequest& r) {
    FakeReply reply;
    reply.body = "{}";
    return r.path == "/slow" ? reply.with_delay(600ms) : reply;
  });
  Transport transport;
  const std::string url = server.base_url();
  const auto with = [&](std::string method, std::string path, std::string body) {
    HttpRequest request = post(url + path, std::move(body));
    request.method = std::move(method);
    request.headers.clear();
    return request;
  };
  HttpRequest first = post(url + "/first", R"({"q":1})");
  first.headers.emplace_back("X-First", "yes");
  const std::vector<HttpRequest> requests = {first,
                                             with("GET", "/get", ""),
                                             with("DELETE", "/delete", ""),
                                             with("PUT", "/put", R"({"p":2})"),
                                             with("GET", "/get-again", "a GET sends no body"),
                                             with("POST", "/empty", ""),
                                             with("POST", "/last", R"({"z":3})")};
  for (const HttpRequest& request : requests) {
    const TransportResult result = send_and_wait(transport, request);
    ASSERT_TRUE(result.ok()) << request.method << " " << result.error->message;
  }
  const std::vector<RecordedRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), requests.size());
  const std::vector<std::string> methods = {"POST", "GET", "DELETE", "PUT", "GET", "POST", "POST"};
  const std::vector<std::string> bodies = {R"({"q":1})", "", "",          R"({"p":2})",
                                           "",           "", R"({"z":3})"};
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].method, methods[i]) << i;
    EXPECT_EQ(seen[i].body, bodies[i]) << i;
    EXPECT_EQ(seen[i].header("x-first"), i == 0 ? "yes" : "") << i;
    // Only the first sent a Content-Type (curl names a form's for the others with a body).
    if (i > 0) {
      EXPECT_NE(seen[i].header("content-type"), "application/json") << i;
    }
  }
  EXPECT_EQ(seen[0].header("user-agent"), TransportOptions().user_agent);
  EXPECT_EQ(seen.back().header("user-agent"), TransportOptions().user_agent);
  EXPECT_EQ(seen.back().header("accept-encoding"), "gzip");

  // A short timeout ends one transfer, and the next one has its own.
  HttpRequest hurried = with("POST", "/slow", "{}");
  hurried.total_timeout_s = 0.2;
  const TransportResult timed_out = send_and_wait(transport, hurried);
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error->kind, EngineErrorKind::kTimeout);
  const TransportResult patient = send_and_wait(transport, with("POST", "/slow", "{}"));
  EXPECT_TRUE(patient.ok()) << patient.error->message;
}

// Note [Parsed URLs]: more distinct URLs than the transport keeps parsed, in flight together
// and one at a time, each reaching its own path and query.
TEST(HttpTransportTest, ManyDistinctUrls) {
  FakeLlmServer server;
  Transport transport;
  std::vector<std::string> expected;
  std::vector<std::future<TransportResult>> results;
  std::vector<std::promise<TransportResult>> promises(50);
  for (int i = 0; i < 50; ++i) {
    const std::string path = "/v1/u" + std::to_string(i % 40);
    expected.push_back(path + "?n=" + std::to_string(i));
    results.push_back(promises[i].get_future());
    transport.send(
        post(server.base_url() + expected.back()),
        [&promises, i](TransportResult result) { promises[i].set_value(std::move(result)); });
  }
  for (auto& result : results) ASSERT_TRUE(result.get().ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(send_and_wait(transport, post(server.base_url() + expected[i])).ok());
  }
  std::multiset<std::string> want(expected.begin(), expected.end());
  want.insert(expected.begin(), expected.end());
  std::multiset<std::string> seen;
  for (const RecordedRequest& request : server.requests()) {
    seen.insert(request.path + "?" + request.query);
  }
  EXPECT_EQ(seen, want);
}

// The transport's User-Agent, unless a request names its own; none when the option is empty.
TEST(HttpTransportTest, SendsItsUserAgentUnlessTheRequestHasOne) {
  FakeLlmServer server;
  TransportOptions options;
  options.user_agent = "tg-test/9";
  Transport transport(options);
  HttpRequest own = post(server.base_url() + "/own");
  own.headers.emplace_back("user-agent", "caller/1");
  ASSERT_TRUE(send_and_wait(transport, post(server.base_url() + "/default")).ok());
  ASSERT_TRUE(send_and_wait(transport, own).ok());
  TransportOptions anonymous;
  anonymous.user_agent.clear();
  Transport quiet(anonymous);
  ASSERT_TRUE(send_and_wait(quiet, post(server.base_url() + "/none")).ok());
  const std::vector<RecordedRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].header("user-agent"), "tg-test/9");
  EXPECT_EQ(seen[1].header("user-agent"), "caller/1");
  EXPECT_EQ(seen[2].header("user-agent"), "");
}

TEST(HttpTransportTest, ConnectionRefusedIsARetryableConnectionError) {
  Transport transport;
  const int port = closed_port();
  const TransportResult result = send_and_wait(
      transport, post("http://127.0.0.1:" + std::to_string(port) + "/v1/x?key=SECRET"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->kind, EngineErrorKind::kConnection);
  EXPECT_TRUE(result.error->retryable);
  EXPECT_EQ(result.response.status, 0);
  // Names the server, never the path or query (which may carry a key).
  EXPECT_NE(result.error->message.find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(result.error->message.find("SECRET"), std::string::npos);
}

// Requests queued while another is in flight are started by the I/O thread, which polls a
// new connection at once (Note [Sending on a new connection at once]): a refused connect must
// be reported there too, at once, and leave the request in flight alone.
TEST(HttpTransportTest, RefusedConnectsStartedBesideARequestInFlightFailAtOnce) {
  FakeLlmServer server(
      [](const RecordedRequest& r) { return fake::reply_for(r, "slow").with_delay(2s); });
  Transport transport;
  std::promise<TransportResult> slow_promise;
  auto slow = slow_promise.get_future();
  transport.send(post(server.base_url() + "/v1/chat/completions"),
                 [&](TransportResult result) { slow_promise.set_value(std::move(result)); });
  const std::string refused = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/x";
  constexpr int kRefused = 5;
  std::vector<std::promise<TransportResult>> promises(kRefused);
  const auto start = Clock::now();
  for (auto& promise : promises) {
    transport.send(post(refused),
                   [&promise](TransportResult result) { promise.set_value(std::move(result)); });
  }
  for (auto& promise : promises) {
    const TransportResult result = promise.get_future().get();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error->kind, EngineErrorKind::kConnection);
  }
  EXPECT_LT(ms_since(start), 1500);  // the answer in flight takes 2 s
  EXPECT_EQ(slow.wait_for(0ms), std::future_status::timeout);
  const TransportResult answer = slow.get();
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer.response.status, 200);
}

TEST(HttpTransportTest, SlowAnswerPastTheTotalTimeoutIsATimeout) {
  FakeLlmServer server(
      [](const RecordedRequest& r) { return fake::reply_for(r, "late").with_delay(3s); });
  Transport transport;
  HttpRequest request = post(server.base_url() + "/v1/chat/completions");
  request.total_timeout_s = 0.3;
  const auto start = Clock::now();
  const TransportResult result = send_and_wait(transport, request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->kind, EngineErrorKind::kTimeout);
  EXPECT_TRUE(result.error->retryable);
  EXPECT_LT(ms_since(start), 2500);
}

// A request the sending thread starts itself (Note [Starting a request on the sender's thread])
// must still have its timeout honoured by the I/O thread, whose wait for events was planned
// before the request existed and lasts up to a second.
TEST(HttpTransportTest, RequestsStartedBySendersTimeOutOnTime) {
  FakeLlmServer server([](const RecordedRequest& r) {
    FakeReply reply = fake::reply_for(r, "ok");
    if (r.path == "/slow") reply.with_delay(2s);
    return reply;
  });
  Transport transport;
  HttpRequest slow = post(server.base_url() + "/slow");
  slow.total_timeout_s = 0.1;
  double waited_ms = 0;
  for (int i = 0; i < 5; ++i) {
    // A timeout closes its connection, so each slow request follows a fast one and reuses its
    // connection: no socket event then wakes the I/O thread before the answer would.
    ASSERT_TRUE(send_and_wait(transport, post(server.base_url() + "/fast")).ok());
    std::this_thread::sleep_for(20ms);  // for the I/O thread to wait again, so we start it
    const auto start = Clock::now();
    const TransportResult result = send_and_wait(transport, slow);
    waited_ms += ms_since(start);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error->kind, EngineErrorKind::kTimeout);
  }
  // Five timeouts of 100 ms; a missed wake-up makes each last the I/O thread's whole wait.
  EXPECT_LT(waited_ms, 2000);
}

// The same for a transfer that ends while its sender starts it: its callback runs on the I/O
// thread, which must learn of it at once.
TEST(HttpTransportTest, RequestsThatFailWhileStartingAreReportedAtOnce) {
  Transport transport;
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) {
    const TransportResult result = send_and_wait(transport, post("ftp://127.0.0.1/x"));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error->kind, EngineErrorKind::kBadRequest);
  }
  EXPECT_LT(ms_since(start), 2500);  // a missed wake-up costs up to a second each
}

TEST(HttpTransportTest, DroppedConnectionIsAConnectionError) {
  FakeLlmServer server([](const RecordedRequest&) { return fake::dropped_connection(); });
  Transport transport;
  const TransportResult result =
      send_and_wait(transport, post(server.base_url() + "/v1/chat/completions"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->kind, EngineErrorKind::kConnection);
  EXPECT_TRUE(result.error->retryable);
}

TEST(HttpTransportTest, MalformedUrlIsAPermanentBadRequest) {
  Transport transport;
  const TransportResult result = send_and_wait(transport, post("ftp://127.0.0.1/x"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->kind, EngineErrorKind::kBadRequest);
  EXPECT_FALSE(result.error->retryable);
}

TEST(HttpTransportTest, SequentialRequestsReuseOneConnection) {
  FakeLlmServer server;
  Transport transport;
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(send_and_wait(transport, post(server.base_url() + "/x")).ok());
  const std::vector<RecordedRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 5u);
  for (const RecordedRequest& request : seen) EXPECT_EQ(request.remote_port, seen[0].remote_port);
}

// libcurl closes a socket when its connection fails or the server ends it, and the next socket
// usually gets the same descriptor number. Taken for the socket already in the epoll set, it would
// not be added, and its request would wait for one of libcurl's timers.
TEST(HttpTransportTest, ClosedSocketsAreNotTakenForWatchedOnes) {
  Transport transport;
  const std::string refused = "http://127.0.0.1:" + std::to_string(closed_port()) + "/x";
  // An unwatched connecting socket is only looked at by libcurl's 200 ms connect timer: five
  // refusals after the first would take a second. Watched, each takes about a millisecond.
  double after_the_first_ms = 0;
  for (int i = 0; i < 6; ++i) {
    const Clock::time_point start = Clock::now();
    const TransportResult result = send_and_wait(transport, post(refused));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error->kind, EngineErrorKind::kConnection) << result.error->message;
    if (i > 0) after_the_first_ms += ms_since(start);
  }
  EXPECT_LT(after_the_first_ms, 500) << "refused connections waited for libcurl's timer";
  FakeLlmServer server([](const RecordedRequest& request) {
    return fake::reply_for(request, "ok").with_header("Connection", "close");
  });
  for (int i = 0; i < 3; ++i) {
    const TransportResult result = send_and_wait(transport, post(server.base_url() + "/x"));
    ASSERT_TRUE(result.ok()) << result.error->message;
  }
  std::set<int> ports;
  for (const RecordedRequest& request : server.requests()) ports.insert(request.remote_port);
  EXPECT_EQ(ports.size(), 3u) << "every answer closed its connection";
}

// Answers each connection's first request and closes it without saying so beforehand: the
// client keeps the connection for reuse and finds it closed while it is idle. (FakeLlmServer
// closes idle connections only after cpp-httplib's keep-alive timeout, whole seconds.)
class ClosingServer {
 public:
  ClosingServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (::bind(listener_, generic, length) != 0 || ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, generic, &length) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ClosingServer() {
    ::shutdown(listener_, SHUT_RDWR);  // ends the accept()
    thread_.join();
    ::close(listener_);
  }
  ClosingServer(const ClosingServer&) = delete;
  ClosingServer& operator=(const ClosingServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    while (true) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      connections_.fetch_add(1);
      if (read_request(client)) {
        const std::string_view answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        [[maybe_unused]] const ssize_t sent = ::send(client, answer.data(), answer.size(), 0);
      }
      ::close(client);
    }
  }
  // The headers and a body of Content-Length bytes (curl writes the header that way).
  static bool read_request(int client) {
    std::string request;
    char buffer[4096];
    while (true) {
      const std::size_t end = request.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::size_t field = request.find("Content-Length: ");
        const std::size_t body =
            field == std::string::npos ? 0 : std::stoul(request.substr(field + 16));
        if (request.size() >= end + 4 + body) return true;
      }
      const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
      if (got <= 0) return false;
      request.append(buffer, static_cast<std::size_t>(got));
    }
  }

  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& time) { return time.tv_sec + time.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A closed connection stays readable until someone reads it; an I/O thread that kept waiting
// for it would be woken again at once, forever.
TEST(HttpTransportTest, AnIdleConnectionTheServerClosesDoesNotSpin) {
  ClosingServer server;
  Transport transport;
  ASSERT_TRUE(send_and_wait(transport, post(server.url())).ok());
  std::this_thread::sleep_for(50ms);  // for the close to arrive
  const double cpu_before = process_cpu_seconds();
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(process_cpu_seconds() - cpu_before, 0.1)
      << "the process worked while nothing was in flight";
  const TransportResult again = send_and_wait(transport, post(server.url()));
  ASSERT_TRUE(again.ok()) << again.error->message;
  EXPECT_EQ(server.connections(), 2) << "the closed connection was replaced";
}

TEST(HttpTransportTest, ManyRequestsAreInFlightAtOnceOnOneThread) {
  constexpr int kRequests = 64;
  FakeLlmServer server(
      [](const RecordedRequest& r) { return fake::reply_for(r, "ok").with_delay(300ms); },
      kRequests + 8);
  Transport transport;
  std::atomic<int> ok{0};
  std::atomic<int> calls{0};
  std::promise<void> all_done;
  const auto start = Clock::now();
  for (int i = 0; i < kRequests; ++i) {
    transport.send(post(server.base_url() + "/v1/chat/completions"), [&](TransportResult result) {
      if (result.ok() && result.response.status == 200) ++ok;
      if (++calls == kRequests) all_done.set_value();
    });
  }
  all_done.get_future().wait();
  const double elapsed = ms_since(start);
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_EQ(calls.load(), kRequests);
  EXPECT_EQ(transport.pending(), 0u);
  // Serially this would take 64 * 300 ms; allow generous slack for a loaded machine.
  EXPECT_GE(server.peak_in_flight(), kRequests / 2);
  EXPECT_LT(elapsed, kRequests * 300 / 4);
}

TEST(HttpTransportTest, DelayedSendStartsLaterWithoutHoldingOthersBack) {
  FakeLlmServer server;
  Transport transport;
  const auto start = Clock::now();
  std::promise<double> delayed_done;
  std::future<double> delayed_ms = delayed_done.get_future();
  // Long enough that the immediate request comes back first on a loaded machine under TSan
  // (it once took 535 ms there); the check below does not depend on the clock.
  transport.send(
      post(server.base_url() + "/delayed"),
      [&](TransportResult) { delayed_done.set_value(ms_since(start)); }, 2s);
  ASSERT_TRUE(send_and_wait(transport, post(server.base_url() + "/now")).ok());
  EXPECT_EQ(delayed_ms.wait_for(0s), std::future_status::timeout) << "held back by the delay";
  EXPECT_GE(delayed_ms.get(), 2000);
  const std::vector<RecordedRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].path, "/now");
  EXPECT_EQ(seen[1].path, "/delayed");
}

TEST(HttpTransportTest, CallbacksMaySendFollowUpRequests) {
  FakeLlmServer server;
  Transport transport;
  std::promise<int> chain_done;
  std::function<void(int)> step = [&](int remaining) {
    transport.send(post(server.base_url() + "/x"), [&, remaining](TransportResult result) {
      if (!result.ok() || remaining == 0) {
        chain_done.set_value(remaining);
        return;
      }
      step(remaining - 1);
    });
  };
  step(3);
  EXPECT_EQ(chain_done.get_future().get(), 0);
  EXPECT_EQ(server.request_count(), 4u);
}

TEST(HttpTransportTest, DestructionCancelsQueuedDelayedAndInFlightRequests) {
  FakeLlmServer server(
      [](const RecordedRequest& r) { return fake::reply_for(r, "slow").with_delay(20s); });
  std::vector<TransportResult> results;
  std::mutex mutex;
  const auto record = [&](TransportResult result) {
    std::lock_guard lock(mutex);
    results.push_back(std::move(result));
  };
  auto transport = std::make_unique<Transport>();
  transport->send(post(server.base_url() + "/a"), record);
  transport->send(post(server.base_url() + "/b"), record);
  transport->send(post(server.base_url() + "/later"), record, 60s);
  while (server.in_flight() < 2) std::this_thread::sleep_for(5ms);
  const auto start = Clock::now();
  transport.reset();
  EXPECT_LT(ms_since(start), 5000);  // no waiting for the 20 s answers or the 60 s delay
  ASSERT_EQ(results.size(), 3u);
  for (const TransportResult& result : results) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error->kind, EngineErrorKind::kCancelled);
    EXPECT_FALSE(result.error->retryable);
  }
}

TEST(HttpTransportTest, TransportMayBeDestroyedFromItsOwnCallback) {
  FakeLlmServer server([](const RecordedRequest& r) {
    return r.path == "/slow" ? fake::reply_for(r, "slow").with_delay(20s)
                             : fake::reply_for(r, "fast");
  });
  auto transport = std::make_shared<Transport>();
  std::promise<TransportResult> slow_result;
  transport->send(post(server.base_url() + "/slow"),
                  [&](TransportResult result) { slow_result.set_value(std::move(result)); });
  while (server.in_flight() < 1) std::this_thread::sleep_for(5ms);
  std::shared_ptr<Transport> holder = transport;
  transport.reset();
  holder->send(post(server.base_url() + "/fast"), [&holder](TransportResult) { holder.reset(); });
  auto future = slow_result.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  const TransportResult result = future.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->kind, EngineErrorKind::kCancelled);
}

TEST(HttpTransportTest, SendAfterShutdownBeganCompletesInlineAsCancelled) {
  FakeLlmServer server(
      [](const RecordedRequest& r) { return fake::reply_for(r, "slow").with_delay(20s); });
  std::promise<EngineErrorKind> follow_up;
  {
    Transport transport;
    transport.send(post(server.base_url() + "/a"), [&](TransportResult) {
      // Runs during shutdown: the new request must complete at once, not hang.
      transport.send(post(server.base_url() + "/b"), [&](TransportResult result) {
        follow_up.set_value(result.ok() ? EngineErrorKind::kServer : result.error->kind);
      });
    });
    while (server.in_flight() < 1) std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(follow_up.get_future().get(), EngineErrorKind::kCancelled);
}

TEST(HttpTransportTest, ThrowingCallbackDoesNotStopTheTransport) {
  FakeLlmServer server;
  Transport transport;
  transport.send(post(server.base_url() + "/x"),
                 [](TransportResult) { throw std::runtime_error("boom"); });
  EXPECT_TRUE(send_and_wait(transport, post(server.base_url() + "/y")).ok());
}

// TLS verification is never switched off: a self-signed certificate must be refused.
TEST(HttpTransportTest, SelfSignedCertificateIsRejected) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tg_tls_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "openssl is not available";

  httplib::SSLServer server(cert.c_str(), key.c_str());
  server.Post(".*", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("{}", "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread listener([&server] { server.listen_after_bind(); });
  {
    Transport transport;
    const TransportResult result =
        send_and_wait(transport, post("https://127.0.0.1:" + std::to_string(port) + "/v1/x"));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error->kind, EngineErrorKind::kConnection);
    EXPECT_FALSE(result.error->retryable);
    EXPECT_NE(result.error->message.find("TLS"), std::string::npos) << result.error->message;
  }
  server.stop();
  listener.join();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tg::http
