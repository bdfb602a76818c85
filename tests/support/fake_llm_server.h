// A local HTTP server that speaks like an LLM provider, for tests and benchmarks.
//
// Listens on 127.0.0.1 at a free port, records every request, and answers each with a scripted
// function of the request. Helpers build well-formed OpenAI Chat Completions, Anthropic
// Messages and Gemini generateContent answers and the providers' error shapes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "textgrad/engine.h"

namespace tg::fake {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct RecordedRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // "a=1&b=2", empty when none
  Headers headers;    // names lower-cased
  std::string body;
  std::chrono::steady_clock::time_point arrived;
  int remote_port = 0;  // the client's port: equal ports mean a reused connection
  int index = 0;        // 0 for the first request the server received

  std::string header(std::string_view name) const;  // case-insensitive; empty when absent
  nlohmann::json json() const;                      // the body parsed; throws if not JSON
};

struct FakeReply {
  int status = 200;
  std::string body;
  // With the charset, cpp-httplib does not compress the body (it would brotli-encode plain
  // "application/json" for clients that accept it, which dominates a benchmark's CPU time).
  std::string content_type = "application/json; charset=utf-8";
  Headers headers;
  std::chrono::milliseconds delay{0};  // wait before answering (interrupted by shutdown)
  // Send the status line and headers, then close the connection halfway through the body.
  bool drop_connection = false;

  FakeReply& with_delay(std::chrono::milliseconds wait) {
    delay = wait;
    return *this;
  }
  FakeReply& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

enum class Dialect { kOpenAI, kAnthropic, kGemini };
// From the path: ".../messages" is Anthropic, ":generateContent" Gemini, anything else OpenAI.
Dialect dialect_of(const RecordedRequest& request);

// Well-formed answers.
FakeReply openai_reply(std::string_view text, Usage usage = {10, 5, 0},
                       std::string_view finish_reason = "stop",
                       std::string_view model = "gpt-4o-2024-08-06");
FakeReply anthropic_reply(std::string_view text, Usage usage = {10, 5, 0},
                          std::string_view stop_reason = "end_turn",
                          std::string_view model = "claude-sonnet-4-5");
FakeReply gemini_reply(std::string_view text, Usage usage = {10, 5, 0},
                       std::string_view finish_reason = "STOP",
                       std::string_view model = "gemini-2.5-flash");
// The answer in the dialect of `request`.
FakeReply reply_for(const RecordedRequest& request, std::string_view text,
                    Usage usage = {10, 5, 0});

// The provider's error envelope with `status` (429 with Retry-After, 500, 503, 529, ...).
FakeReply error_reply(Dialect dialect, int status, std::string_view message);
FakeReply rate_limited(Dialect dialect, double retry_after_s);
FakeReply context_length_error(Dialect dialect);
FakeReply wrong_key(Dialect dialect);
FakeReply refusal(Dialect dialect);         // 200 whose answer is a refusal / safety block
FakeReply null_content();                   // OpenAI 200 with "content": null
FakeReply truncated_body(Dialect dialect);  // 200 whose JSON stops halfway
FakeReply non_json_body(int status = 200);  // e.g. an HTML page from a proxy
FakeReply dropped_connection();             // headers, then the connection closes

// Note [Script lifetime]
// One script object answers every request, on the server's threads, concurrently, until the
// destructor has joined them: calling it must be thread-safe (a `mutable` lambda that changes
// its captures is not). What it reads must be owned by the script (captured by value) or outlive
// the server: a test's local captured by reference dies at the end of the test body, and a
// fixture's member or virtual function is torn down before the fixture's server stops unless
// TearDown() stops it first. The client having received the answer orders nothing here:
// ThreadSanitizer sees no happens-before through a socket or a child process, and a keep-alive
// thread may still be in the script when a killed client's connection drops.
class FakeLlmServer {
 public:
  using Script = std::function<FakeReply(const RecordedRequest&)>;

  // `threads` bounds the connections served at once (one per thread with HTTP/1.1
  // keep-alive); requests beyond it wait. The default script answers "ok" in the request's
  // dialect.
  explicit FakeLlmServer(Script script = {}, int threads = 32);
  ~FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  // Requests arriving afterwards get `script`; one already in the old script finishes there.
  void set_script(Script script);
  std::vector<RecordedRequest> requests() const;  // those kept (see set_keep_requests)
  std::size_t request_count() const;              // every request received
  // Whether requests() keeps each request (the default, for tests). A server that runs long
  // (the mock model, a benchmark's) turns it off, so its memory does not grow with every call.
  void set_keep_requests(bool keep);
  int in_flight() const { return in_flight_.load(); }
  int peak_in_flight() const { return peak_in_flight_.load(); }
  void reset_peak() { peak_in_flight_.store(in_flight_.load()); }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<int> in_flight_{0};
  std::atomic<int> peak_in_flight_{0};
};

}  // namespace tg::fake
