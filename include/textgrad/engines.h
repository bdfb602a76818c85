// Creating LLM engines by name: "provider/model" ("openai/gpt-4o", "anthropic/claude-sonnet-4-5",
// "ollama/qwen2.5", ...), plus the reference TextGrad's names ("gpt-4o",
// "claude-3-5-sonnet-20240620", "ollama-llama3", "experimental:gpt-4o", ...).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "textgrad/engine.h"

namespace tg {

namespace http {
class Transport;  // opaque: one I/O thread that many engines may share
}

// A transport (one I/O thread, one connection pool) to share between engines through
// EngineOptions::transport. Requests still in flight when the last owner drops it fail with
// EngineErrorKind::kCancelled.
std::shared_ptr<http::Transport> make_transport(long max_connections_per_host = 512);

struct EngineOptions {
  // Empty: read from the provider's environment variable (OPENAI_API_KEY, ...).
  // Never logged, never put in an error message or an answer.
  std::string api_key;
  // Empty: the provider's environment variable (OPENAI_BASE_URL, OLLAMA_BASE_URL, ...), else
  // the provider's public endpoint.
  std::string base_url;
  double timeout_s = 600;  // whole request, per attempt
  double connect_timeout_s = 10;
  // Transient failures (connection, timeout, 408/409/429/5xx) are retried with exponential
  // backoff and jitter; a server's Retry-After is honored up to max_retry_after_s, and a
  // longer requested wait ends the request with an error at once.
  int max_retries = 4;
  double retry_initial_delay_s = 0.5;
  double retry_max_delay_s = 8;
  double max_retry_after_s = 60;
  // Used for requests that carry no SamplingParams.
  SamplingParams sampling;
  // Sent with every request (e.g. OpenRouter's HTTP-Referer). Values of headers whose names
  // look like credentials are redacted like the key.
  std::vector<std::pair<std::string, std::string>> extra_headers;
  // nullopt: false for known text-only models, otherwise images are sent and the provider
  // decides.
  std::optional<bool> accepts_images;
  // Chat Completions servers: max_completion_tokens (OpenAI, Azure, Groq) or max_tokens
  // (local servers and most other compatible ones). nullopt: the provider's usual choice.
  std::optional<bool> use_max_completion_tokens;
  // Azure only. Empty: AZURE_OPENAI_API_VERSION, then OPENAI_API_VERSION, then a GA default.
  std::string azure_api_version;
  // Empty: the engine gets a transport of its own (its own I/O thread), so engines stay
  // independent and nothing global outlives main(). Share one to pool connections.
  std::shared_ptr<http::Transport> transport;
};

// Throws InvalidArgument for an unknown name (listing the accepted forms) or a missing key
// (naming the environment variable to set).
EnginePtr make_engine(std::string_view name, const EngineOptions& options = {});

// Accounting of one HTTP engine since it was created.
struct EngineStats {
  std::int64_t requests = 0;  // submit() calls
  std::int64_t succeeded = 0;
  std::int64_t failed = 0;
  std::int64_t http_attempts = 0;  // HTTP requests sent, retries included
  std::int64_t retries = 0;
  Usage usage;                                  // successful answers only
  std::map<std::string, Usage> usage_by_model;  // the model that answered, as reported
  std::map<Phase, Usage> usage_by_phase;
};

// The stats of an engine made by make_engine; nullopt for other engines.
std::optional<EngineStats> engine_stats(const Engine& engine);

}  // namespace tg
