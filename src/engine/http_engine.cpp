#include "engine/http_engine.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "util/redact.h"
#include "util/text.h"

namespace tg::engine {
namespace {

using Clock = std::chrono::steady_clock;

bool looks_like_credential_header(std::string_view name) {
  const std::string key = util::lower(name);
  for (std::string_view marker : {"auth", "key", "token", "secret", "cookie"}) {
    if (key.find(marker) != std::string::npos) return true;
  }
  return false;
}

// Note [Which secrets are redacted] (util/redact.h) says which values are too short.
util::Redactor collect_secrets(const providers::ProviderConfig& config) {
  util::Redactor secrets;
  secrets.add(config.api_key);
  for (const auto& [name, value] : config.extra_headers) {
    if (!looks_like_credential_header(name)) continue;
    secrets.add(value);
    if (util::lower(value).starts_with("bearer ")) secrets.add(value.substr(7));
  }
  return secrets;
}

double jitter() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

std::optional<bool> parse_should_retry(const http::HttpResponse& response) {
  const std::string value = util::lower(response.header("x-should-retry"));
  if (value == "true") return true;
  if (value == "false") return false;
  return std::nullopt;
}

// Note [Endpoint in the cache key]
// Two servers may serve different models under one name (llama3 on two hosts, or OpenAI's
// URL pointed at a proxy), so the endpoint is part of EngineInfo and of every cache key.
// Only the parts that pick the server and the route are kept: user info and the query can
// carry credentials and never name a different model.
std::string endpoint_of(const providers::ProviderConfig& config) {
  std::string endpoint = http::url_without_credentials(config.base_url);
  if (config.wire_format == "azure") endpoint += "/openai/deployments/" + config.model;
  return endpoint;
}

}  // namespace

std::optional<bool> known_image_support(std::string_view model) {
  const std::string name = util::lower(model);
  static constexpr std::string_view kTextOnly[] = {
      "gpt-3.5",           "gpt-35",   "o1-mini",        "o1-preview",  "o3-mini", "deepseek-chat",
      "deepseek-reasoner", "claude-2", "claude-instant", "text-davinci"};
  for (std::string_view family : kTextOnly) {
    if (name.find(family) != std::string::npos) return false;
  }
  // The original "gemini-pro" (1.0) was text-only; "gemini-1.5-pro" and later are not.
  if (name == "gemini-pro" || name.starts_with("gemini-1.0-pro")) return false;
  return std::nullopt;
}

struct HttpEngine::Core {
  providers::ProviderConfig config;
  std::unique_ptr<const providers::Codec> codec;
  HttpEngineOptions options;
  std::weak_ptr<http::Transport> transport;
  util::Redactor redact;

  mutable std::mutex mutex;
  EngineStats stats;  // guarded by mutex

  // Every message leaving the engine passes here: named, and scrubbed of credentials.
  std::string message(std::string_view text) const {
    return redact(fmt::format("{}: {}", options.name, text));
  }

  void count(const std::function<void(EngineStats&)>& update) {
    std::lock_guard lock(mutex);
    update(stats);
  }
};

namespace {

// One submit() from start to its single completion, across attempts.
struct Call {
  std::shared_ptr<HttpEngine::Core> core;
  // Shared with the transport, so a retry sends it again without a copy.
  std::shared_ptr<const http::HttpRequest> http_request;
  std::function<void(Outcome)> done;
  Phase phase = Phase::kOther;
  Clock::time_point submitted = Clock::now();
  int attempts = 0;
};
using CallPtr = std::shared_ptr<Call>;

void fail(const CallPtr& call, std::exception_ptr error) {
  call->core->count([](EngineStats& stats) { ++stats.failed; });
  std::function<void(Outcome)> done = std::move(call->done);
  done(Outcome{std::move(error), {}});
}

void fail(const CallPtr& call, EngineErrorKind kind, std::string_view text, int status = 0,
          const Usage& billed = {}) {
  // A statement of its own: the temporary EngineError shares its message buffer with the
  // copy in the exception_ptr and must be gone before another thread receives that copy.
  std::exception_ptr error =
      std::make_exception_ptr(EngineError(kind, call->core->message(text), status, billed));
  fail(call, std::move(error));
}

void succeed(const CallPtr& call, Response response) {
  const HttpEngine::Core& core = *call->core;
  if (response.text.size() > core.options.max_answer_bytes) {
    fail(call, EngineErrorKind::kMalformed,
         fmt::format("the answer is {} bytes long, more than the {}-byte limit; ask for a shorter "
                     "answer (lower max_tokens) or raise EngineOptions::max_answer_bytes",
                     response.text.size(), core.options.max_answer_bytes),
         0, response.usage);
    return;
  }
  response.text = core.redact(std::move(response.text));
  response.model = response.model.empty() ? core.config.model : core.redact(response.model);
  response.latency_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - call->submitted).count();
  call->core->count([&](EngineStats& stats) {
    ++stats.succeeded;
    stats.usage += response.usage;
    stats.usage_by_model[response.model] += response.usage;
    stats.usage_by_phase[call->phase] += response.usage;
  });
  std::function<void(Outcome)> done = std::move(call->done);
  done(Outcome{nullptr, std::move(response)});
}

void send_attempt(const CallPtr& call, std::chrono::milliseconds delay);

std::string give_up_note(const RetryDecision& decision, int attempts, bool retryable) {
  if (retryable) return fmt::format(" [{}]", decision.give_up_reason);
  if (attempts > 1)
    return fmt::format(" [attempt {}; earlier attempts failed transiently]", attempts);
  return {};
}

void retry_or_fail(const CallPtr& call, const AttemptFailure& failure, std::string_view text) {
  const RetryOptions& options = call->core->options.retry;
  const RetryDecision decision = decide_retry(options, failure, call->attempts - 1, jitter());
  if (decision.retry) {
    call->core->count([](EngineStats& stats) { ++stats.retries; });
    const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(decision.delay_s));
    if (const std::shared_ptr<tg::Clock>& clock = call->core->options.clock) {
      clock->wake_at(clock->now() + delay,
                     [call] { send_attempt(call, std::chrono::milliseconds(0)); });
    } else {
      send_attempt(call, delay);
    }
    return;
  }
  const std::string note = give_up_note(decision, call->attempts, is_retryable(failure));
  fail(call, failure.kind, std::string(text) + note, failure.http_status, failure.billed);
}

void on_http_response(const CallPtr& call, const http::HttpResponse& response) {
  const HttpEngine::Core& core = *call->core;
  AttemptFailure failure;
  std::string text;
  std::optional<Response> decoded;
  try {
    decoded = core.codec->decode(response, core.config);
  } catch (const EngineError& error) {
    failure.kind = error.kind();
    failure.http_status = error.http_status() != 0 ? error.http_status() : response.status;
    failure.billed = error.billed();
    text = error.what();
  } catch (const std::exception& error) {
    failure.kind = EngineErrorKind::kMalformed;
    failure.http_status = response.status;
    text = fmt::format("could not read the answer (HTTP {}): {}", response.status, error.what());
  }
  // Outside the try: an exception from the caller's callback is not a decoding failure.
  if (decoded.has_value()) {
    succeed(call, std::move(*decoded));
    return;
  }
  try {
    failure.retry_after_s = core.codec->retry_after_seconds(response);
  } catch (const std::exception&) {
    // An unreadable Retry-After only loses the hint; our own backoff still applies.
  }
  failure.server_says_retry = parse_should_retry(response);
  retry_or_fail(call, failure, text);
}

void on_transport_result(const CallPtr& call, http::TransportResult result) {
  if (result.ok()) {
    on_http_response(call, result.response);
    return;
  }
  const http::TransportError& error = *result.error;
  AttemptFailure failure;
  failure.kind = error.kind;
  failure.retryable = error.retryable;
  retry_or_fail(call, failure, error.message);
}

void send_attempt(const CallPtr& call, std::chrono::milliseconds delay) {
  std::shared_ptr<http::Transport> transport = call->core->transport.lock();
  if (!transport) {
    fail(call, EngineErrorKind::kCancelled,
         "the engine was destroyed before the request completed");
    return;
  }
  ++call->attempts;
  call->core->count([](EngineStats& stats) { ++stats.http_attempts; });
  transport->send(
      call->http_request,
      [call](http::TransportResult result) { on_transport_result(call, std::move(result)); },
      delay);
}

}  // namespace

HttpEngine::HttpEngine(providers::ProviderConfig config, std::unique_ptr<providers::Codec> codec,
                       std::shared_ptr<http::Transport> transport, HttpEngineOptions options)
    : core_(std::make_shared<Core>()), transport_(std::move(transport)) {
  if (!codec) throw InvalidArgument("HttpEngine needs a codec");
  if (!transport_) throw InvalidArgument("HttpEngine needs a transport");
  if (config.provider.empty()) config.provider = config.wire_format;
  if (config.wire_format.empty()) config.wire_format = config.provider;
  if (options.name.empty()) options.name = config.provider + "/" + config.model;
  core_->redact = collect_secrets(config);
  core_->config = std::move(config);
  core_->codec = std::move(codec);
  core_->options = std::move(options);
  core_->transport = transport_;
}

HttpEngine::~HttpEngine() = default;

EngineInfo HttpEngine::info() const {
  const Core& core = *core_;
  std::optional<bool> images = core.options.accepts_images;
  if (!images.has_value()) images = known_image_support(core.config.model);
  EngineInfo info;
  info.name = core.options.name;
  info.provider = core.config.provider;
  info.model = core.config.model;
  info.wire_format = core.config.wire_format;
  info.endpoint = endpoint_of(core.config);
  info.accepts_images = images;
  info.default_sampling = core.options.sampling;
  return info;
}

void HttpEngine::submit(Request request, std::function<void(Outcome)> done) {
  auto call = std::make_shared<Call>();
  call->core = core_;
  call->done = std::move(done);
  call->phase = request.phase;
  core_->count([](EngineStats& stats) { ++stats.requests; });

  if (request.has_images() && info().accepts_images == false) {
    fail(call, EngineErrorKind::kUnsupported,
         fmt::format("model {} does not accept images; use a vision model, or set "
                     "accepts_images in the engine options if it does",
                     core_->config.model));
    return;
  }
  const SamplingParams sampling =
      core_->options.capabilities.filter(request.sampling.value_or(core_->options.sampling));
  http::HttpRequest http_request;
  try {
    http_request = core_->codec->encode(request, sampling, core_->config);
  } catch (const EngineError& error) {
    fail(call, error.kind(), error.what(), error.http_status());
    return;
  } catch (const InvalidArgument& error) {
    std::exception_ptr invalid =
        std::make_exception_ptr(InvalidArgument(core_->message(error.what())));
    fail(call, std::move(invalid));
    return;
  } catch (const std::exception& error) {
    fail(call, EngineErrorKind::kBadRequest,
         fmt::format("could not build the request: {}", error.what()));
    return;
  }
  http_request.total_timeout_s = core_->options.timeout_s;
  http_request.connect_timeout_s = core_->options.connect_timeout_s;
  call->http_request = std::make_shared<const http::HttpRequest>(std::move(http_request));
  send_attempt(call, std::chrono::milliseconds(0));
}

EngineStats HttpEngine::stats() const {
  std::lock_guard lock(core_->mutex);
  return core_->stats;
}

}  // namespace tg::engine

namespace tg {

std::optional<EngineStats> engine_stats(const Engine& engine) {
  if (const auto* http = dynamic_cast<const engine::HttpEngine*>(&engine)) return http->stats();
  return std::nullopt;
}

}  // namespace tg
