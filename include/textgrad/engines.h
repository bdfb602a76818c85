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
#include "textgrad/limits.h"

namespace tg {

namespace http {
class Transport;  // opaque: one I/O thread that many engines may share
}

// A transport (one I/O thread, one connection pool) to share between engines through
// EngineOptions::transport. Requests still in flight when the last owner drops it fail with
// EngineErrorKind::kCancelled.
std::shared_ptr<http::Transport> make_transport(long max_connections_per_host = 512);

// What a model accepts, from the capability table (data/models.json; see docs/engines.md,
// "Model capabilities"). Sampling parameters a model rejects are left out of its requests.
struct ModelCapabilities {
  bool temperature = true;             // false: temperature is never sent
  bool top_p = true;                   // false: top_p is never sent
  bool temperature_with_top_p = true;  // false: top_p is sent only without a temperature
  // Chat Completions: the output limit's field, max_completion_tokens (true) or max_tokens
  // (false). nullopt: the provider's usual choice.
  std::optional<bool> max_completion_tokens;
  bool operator==(const ModelCapabilities&) const = default;

  // `sampling` without what this model rejects.
  SamplingParams filter(SamplingParams sampling) const;
};

// Per-model capabilities, keyed like the price table: "<provider>/<model prefix>" or a bare
// "<model prefix>"; a provider-qualified key beats a bare one, the longest prefix wins.
// Thread-safe for concurrent reads.
class CapabilityTable {
 public:
  CapabilityTable() = default;
  // data/models.json, compiled into the library.
  static CapabilityTable shipped();
  // A JSON object {"<key>": {"temperature": bool, "top_p": bool, "temperature_with_top_p":
  // bool, "max_completion_tokens": bool}}; keys starting with '_' are comments. Throws
  // ParseError (naming `origin` and the key) for anything else.
  static CapabilityTable load(const std::string& path);
  static CapabilityTable parse(const std::string& json_text, const std::string& origin);

  void set(const std::string& key, ModelCapabilities capabilities);
  // Entries of `overrides` replace (whole) or add to this table's.
  void merge(const CapabilityTable& overrides);
  // The capabilities of `model` at `provider` (canonical); all-accepting when no key matches.
  ModelCapabilities find(std::string_view provider, std::string_view model) const;

 private:
  std::map<std::string, ModelCapabilities> entries_;
};

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
  // (local servers and most other compatible ones). nullopt: the model's capability entry,
  // else the provider's usual choice.
  std::optional<bool> use_max_completion_tokens;
  // A capability table (JSON, the format of data/models.json) whose entries override the
  // shipped table's. Empty: the shipped table only.
  std::string model_table_path;
  // The largest answer text accepted, in bytes; a longer one fails with kMalformed (its tokens
  // are still reported). Keeps a runaway answer out of every later prompt and report.
  std::size_t max_answer_bytes = 2u << 20;
  // Times the waits between retries (tests pass a clock they drive by hand). nullptr: the
  // transport's own timer.
  std::shared_ptr<Clock> clock;
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
