#include "support/fake_llm_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/json_parse.h"
#include "util/json_writer.h"

namespace tg::fake {
namespace {

using nlohmann::json;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

FakeReply json_reply(int status, const json& body) {
  FakeReply reply;
  reply.status = status;
  reply.body = body.dump();
  return reply;
}

std::string seconds_text(double seconds) {
  if (seconds == static_cast<double>(static_cast<long long>(seconds))) {
    return std::to_string(static_cast<long long>(seconds));
  }
  return fmt::format("{:.3f}", seconds);
}

std::string openai_error_type(int status) {
  if (status == 429) return "requests";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

std::string anthropic_error_type(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

std::string google_status(int status) {
  switch (status) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

}  // namespace

std::string RecordedRequest::header(std::string_view name) const {
  const std::string wanted = lower(name);
  for (const auto& [key, value] : headers) {
    if (key == wanted) return value;
  }
  return {};
}

// The project's parser builds exactly the document nlohmann::json::parse() builds, in a
// fraction of the time: the benchmarks' server parses every request it answers.
nlohmann::json RecordedRequest::json() const { return util::parse_json(body); }

Dialect dialect_of(const RecordedRequest& request) {
  if (request.path.ends_with("/messages")) return Dialect::kAnthropic;
  if (request.path.find(":generateContent") != std::string::npos) return Dialect::kGemini;
  return Dialect::kOpenAI;
}

// Written front to back: the benchmarks' server answers thousands of calls a second on the
// client's cores, and building the document cost more than everything else it does per call.
// Members in nlohmann's sorted order, so the bytes are what dump() gives for the document.
FakeReply openai_reply(std::string_view text, Usage usage, std::string_view finish_reason,
                       std::string_view model) {
  util::JsonWriter body;
  body.begin_object().key("choices").begin_array().begin_object();
  body.key("finish_reason").string(finish_reason).key("index").number(std::int64_t{0});
  body.key("logprobs").raw("null").key("message").begin_object();
  body.key("content").string(text).key("refusal").raw("null").key("role").string("assistant");
  body.end_object().end_object().end_array();
  body.key("created").number(std::int64_t{1700000000}).key("id").string("chatcmpl-fake");
  body.key("model").string(model).key("object").string("chat.completion");
  body.key("usage").begin_object().key("completion_tokens").number(usage.output_tokens);
  body.key("prompt_tokens").number(usage.input_tokens);
  body.key("prompt_tokens_details").begin_object();
  body.key("cached_tokens").number(usage.cached_input_tokens).end_object();
  body.key("total_tokens").number(usage.input_tokens + usage.output_tokens);
  body.end_object().end_object();
  FakeReply reply;
  reply.body = body.take();
  return reply;
}

FakeReply anthropic_reply(std::string_view text, Usage usage, std::string_view stop_reason,
                          std::string_view model) {
  // Anthropic's input_tokens excludes cache reads, which it reports separately.
  return json_reply(200, {{"id", "msg_fake"},
                          {"type", "message"},
                          {"role", "assistant"},
                          {"model", model},
                          {"content", json::array({{{"type", "text"}, {"text", text}}})},
                          {"stop_reason", stop_reason},
                          {"stop_sequence", nullptr},
                          {"usage",
                           {{"input_tokens", usage.input_tokens - usage.cached_input_tokens},
                            {"output_tokens", usage.output_tokens},
                            {"cache_creation_input_tokens", 0},
                            {"cache_read_input_tokens", usage.cached_input_tokens}}}});
}

FakeReply gemini_reply(std::string_view text, Usage usage, std::string_view finish_reason,
                       std::string_view model) {
  json metadata = {{"promptTokenCount", usage.input_tokens},
                   {"candidatesTokenCount", usage.output_tokens},
                   {"totalTokenCount", usage.input_tokens + usage.output_tokens}};
  if (usage.cached_input_tokens > 0)
    metadata["cachedContentTokenCount"] = usage.cached_input_tokens;
  return json_reply(
      200,
      {{"candidates",
        json::array({{{"content", {{"role", "model"}, {"parts", json::array({{{"text", text}}})}}},
                      {"finishReason", finish_reason},
                      {"index", 0}}})},
       {"usageMetadata", metadata},
       {"modelVersion", model},
       {"responseId", "fake"}});
}

FakeReply reply_for(const RecordedRequest& request, std::string_view text, Usage usage) {
  switch (dialect_of(request)) {
    case Dialect::kAnthropic:
      return anthropic_reply(text, usage);
    case Dialect::kGemini:
      return gemini_reply(text, usage);
    case Dialect::kOpenAI:
      break;
  }
  return openai_reply(text, usage);
}

FakeReply error_reply(Dialect dialect, int status, std::string_view message) {
  switch (dialect) {
    case Dialect::kAnthropic:
      return json_reply(status,
                        {{"type", "error"},
                         {"error", {{"type", anthropic_error_type(status)}, {"message", message}}},
                         {"request_id", "req_fake"}});
    case Dialect::kGemini:
      return json_reply(
          status,
          {{"error", {{"code", status}, {"message", message}, {"status", google_status(status)}}}});
    case Dialect::kOpenAI:
      break;
  }
  const json code = status == 429 ? json("rate_limit_exceeded") : json(nullptr);
  return json_reply(status, {{"error",
                              {{"message", message},
                               {"type", openai_error_type(status)},
                               {"param", nullptr},
                               {"code", code}}}});
}

FakeReply rate_limited(Dialect dialect, double retry_after_s) {
  const std::string wait = seconds_text(retry_after_s);
  FakeReply reply =
      error_reply(dialect, 429, fmt::format("Rate limit reached. Please try again in {}s.", wait));
  if (dialect == Dialect::kGemini) {
    json body = json::parse(reply.body);
    body["error"]["details"] = json::array(
        {{{"@type", "type.googleapis.com/google.rpc.RetryInfo"}, {"retryDelay", wait + "s"}}});
    reply.body = body.dump();
  }
  return reply.with_header("retry-after", wait);
}

FakeReply context_length_error(Dialect dialect) {
  switch (dialect) {
    case Dialect::kAnthropic:
      return error_reply(dialect, 400, "prompt is too long: 208656 tokens > 200000 maximum");
    case Dialect::kGemini:
      return error_reply(dialect, 400,
                         "The input token count (1200000) exceeds the maximum number of tokens "
                         "allowed (1048576).");
    case Dialect::kOpenAI:
      break;
  }
  return json_reply(400, {{"error",
                           {{"message",
                             "This model's maximum context length is 128000 tokens. However, your "
                             "messages resulted in 200000 tokens. Please reduce the length of the "
                             "messages."},
                            {"type", "invalid_request_error"},
                            {"param", "messages"},
                            {"code", "context_length_exceeded"}}}});
}

FakeReply wrong_key(Dialect dialect) {
  switch (dialect) {
    case Dialect::kAnthropic:
      return error_reply(dialect, 401, "invalid x-api-key");
    case Dialect::kGemini: {
      FakeReply reply =
          error_reply(dialect, 400, "API key not valid. Please pass a valid API key.");
      json body = json::parse(reply.body);
      body["error"]["details"] =
          json::array({{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                        {"reason", "API_KEY_INVALID"},
                        {"domain", "googleapis.com"}}});
      reply.body = body.dump();
      return reply;
    }
    case Dialect::kOpenAI:
      break;
  }
  return json_reply(401, {{"error",
                           {{"message",
                             "Incorrect API key provided: sk-fake***. You can find your API key "
                             "at https://platform.openai.com/account/api-keys."},
                            {"type", "invalid_request_error"},
                            {"param", nullptr},
                            {"code", "invalid_api_key"}}}});
}

FakeReply refusal(Dialect dialect) {
  switch (dialect) {
    case Dialect::kAnthropic: {
      FakeReply reply = anthropic_reply("", {10, 0, 0}, "refusal");
      json body = json::parse(reply.body);
      body["content"] = json::array();
      reply.body = body.dump();
      return reply;
    }
    case Dialect::kGemini:
      return json_reply(
          200,
          {{"promptFeedback",
            {{"blockReason", "SAFETY"},
             {"safetyRatings",
              json::array({{{"category", "HARM_CATEGORY_HARASSMENT"}, {"probability", "HIGH"}}})}}},
           {"usageMetadata", {{"promptTokenCount", 12}, {"totalTokenCount", 12}}}});
    case Dialect::kOpenAI:
      break;
  }
  json body = json::parse(openai_reply("", {10, 0, 0}).body);
  body["choices"][0]["message"]["content"] = nullptr;
  body["choices"][0]["message"]["refusal"] = "I'm sorry, I can't help with that.";
  return json_reply(200, body);
}

FakeReply null_content() {
  json body = json::parse(openai_reply("", {10, 0, 0}).body);
  body["choices"][0]["message"]["content"] = nullptr;
  return json_reply(200, body);
}

FakeReply truncated_body(Dialect dialect) {
  FakeReply reply = dialect == Dialect::kAnthropic ? anthropic_reply("a complete answer")
                    : dialect == Dialect::kGemini  ? gemini_reply("a complete answer")
                                                   : openai_reply("a complete answer");
  reply.body.resize(reply.body.size() / 2);
  return reply;
}

FakeReply non_json_body(int status) {
  FakeReply reply;
  reply.status = status;
  reply.content_type = "text/html";
  reply.body = "<html><body><h1>502 Bad Gateway</h1><p>upstream unavailable</p></body></html>";
  return reply;
}

FakeReply dropped_connection() {
  FakeReply reply = openai_reply("this answer never arrives in full");
  reply.drop_connection = true;
  return reply;
}

namespace {

// The packaged cpp-httplib listens with a backlog of 5: a burst of connects then overflows
// the accept queue and the kernel drops SYNs, costing a 1 s retransmission each. Re-listening
// with a deeper backlog (Linux updates it in place) avoids that.
class Server : public httplib::Server {
 public:
  void deepen_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

}  // namespace

struct FakeLlmServer::Impl {
  FakeLlmServer* owner = nullptr;
  Server server;
  std::thread listener;

  mutable std::mutex mutex;
  std::shared_ptr<const Script> script;   // guarded by mutex; shared, so never copied
  std::vector<RecordedRequest> recorded;  // guarded by mutex
  std::size_t received = 0;               // guarded by mutex
  bool keep_requests = true;              // guarded by mutex
  bool stopping = false;                  // guarded by mutex
  std::condition_variable stop_signal;

  void handle(const httplib::Request& request, httplib::Response& response);
  RecordedRequest record(const httplib::Request& request);
  void wait(std::chrono::milliseconds delay);
};

namespace {

// Counts a request as in flight for the lifetime of its handler.
class InFlight {
 public:
  InFlight(std::atomic<int>& count, std::atomic<int>& peak) : count_(count) {
    const int now = ++count_;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  }
  ~InFlight() { --count_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<int>& count_;
};

void write_dropping(httplib::Response& response, const FakeReply& reply) {
  auto body = std::make_shared<std::string>(reply.body.empty() ? std::string(64, 'x') : reply.body);
  // Promise the whole body, deliver half, then fail the provider: httplib closes the socket.
  response.set_content_provider(body->size(), reply.content_type,
                                [body](size_t offset, size_t, httplib::DataSink& sink) {
                                  if (offset > 0) return false;
                                  sink.write(body->data(), body->size() / 2);
                                  return true;
                                });
}

}  // namespace

RecordedRequest FakeLlmServer::Impl::record(const httplib::Request& request) {
  RecordedRequest recorded_request;
  recorded_request.method = request.method;
  recorded_request.path = request.path;
  if (const std::size_t mark = request.target.find('?'); mark != std::string::npos) {
    recorded_request.query = request.target.substr(mark + 1);
  }
  for (const auto& [name, value] : request.headers) {
    recorded_request.headers.emplace_back(lower(name), value);
  }
  recorded_request.body = request.body;
  recorded_request.arrived = std::chrono::steady_clock::now();
  recorded_request.remote_port = request.remote_port;
  return recorded_request;
}

void FakeLlmServer::Impl::wait(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex);
  stop_signal.wait_for(lock, delay, [this] { return stopping; });
}

void FakeLlmServer::Impl::handle(const httplib::Request& request, httplib::Response& response) {
  InFlight in_flight(owner->in_flight_, owner->peak_in_flight_);
  RecordedRequest recorded_request = record(request);
  std::shared_ptr<const Script> current;
  {
    std::lock_guard lock(mutex);
    recorded_request.index = static_cast<int>(received++);
    if (keep_requests) recorded.push_back(recorded_request);
    current = script;
  }
  const FakeReply reply =
      *current ? (*current)(recorded_request) : reply_for(recorded_request, "ok");
  if (reply.delay.count() > 0) wait(reply.delay);
  response.status = reply.status;
  for (const auto& [name, value] : reply.headers) response.set_header(name, value);
  if (reply.drop_connection) {
    write_dropping(response, reply);
  } else {
    response.set_content(reply.body, reply.content_type);
  }
}

FakeLlmServer::FakeLlmServer(Script script, int threads) : impl_(std::make_unique<Impl>()) {
  impl_->owner = this;
  impl_->script = std::make_shared<const Script>(std::move(script));
  Server& server = impl_->server;
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  server.set_tcp_nodelay(true);  // else Nagle and delayed ACKs add ~40 ms per answer
  server.set_keep_alive_max_count(1000000);
  // Short, so that stopping the server does not wait long on idle keep-alive connections.
  server.set_keep_alive_timeout(2);
  server.set_payload_max_length(64u << 20);
  const auto handler = [impl = impl_.get()](const httplib::Request& request,
                                            httplib::Response& response) {
    impl->handle(request, response);
  };
  server.Post(".*", handler);
  server.Get(".*", handler);
  server.Put(".*", handler);
  server.Delete(".*", handler);
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
        response.status = 500;
        response.set_content("{\"error\":{\"message\":\"the fake server's script threw\"}}",
                             "application/json");
      });
  port_ = server.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("FakeLlmServer: cannot bind 127.0.0.1");
  server.deepen_backlog();
  impl_->listener = std::thread([impl = impl_.get()] { impl->server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeLlmServer::~FakeLlmServer() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->stop_signal.notify_all();
  impl_->server.stop();
  impl_->listener.join();
}

std::string FakeLlmServer::base_url() const { return fmt::format("http://127.0.0.1:{}", port_); }

void FakeLlmServer::set_script(Script script) {
  auto shared = std::make_shared<const Script>(std::move(script));
  std::lock_guard lock(impl_->mutex);
  impl_->script = std::move(shared);
}

std::vector<RecordedRequest> FakeLlmServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->recorded;
}

std::size_t FakeLlmServer::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

void FakeLlmServer::set_keep_requests(bool keep) {
  std::lock_guard lock(impl_->mutex);
  impl_->keep_requests = keep;
}

}  // namespace tg::fake
