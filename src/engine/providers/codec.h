// Provider wire formats as pure functions: a Request in, an HTTP request out; an HTTP
// response in, a Response (or a classified EngineError) out. No sockets here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.h"
#include "textgrad/engine.h"

namespace tg::providers {

struct ProviderConfig {
  // The canonical provider: "openai", "ollama", "groq", "azure", "anthropic", ... (what prices
  // and cache keys are looked up by). Empty: the wire format.
  std::string provider;
  std::string model;
  std::string base_url;  // without a trailing slash
  std::string api_key;   // may be empty for local servers; never logged or put in errors
  std::string azure_api_version;
  // Chat Completions: send max_completion_tokens (OpenAI) or max_tokens (most local servers).
  bool use_max_completion_tokens = true;
  http::Headers extra_headers;
  // The codec: "openai" (any Chat Completions server), "azure", "anthropic", "gemini".
  // Empty: the provider.
  std::string wire_format;
};

class Codec {
 public:
  virtual ~Codec() = default;
  virtual http::HttpRequest encode(const Request& request, const SamplingParams& sampling,
                                   const ProviderConfig& config) const = 0;
  // A 2xx answer becomes a Response. Anything else, and a 2xx whose body is a refusal,
  // empty, truncated or malformed, throws EngineError with the matching kind and a message
  // that quotes the provider's own message and says what to do.
  virtual Response decode(const http::HttpResponse& response,
                          const ProviderConfig& config) const = 0;
  // The delay the server asked for before a retry (retry-after-ms, Retry-After seconds or
  // HTTP date, Gemini RetryInfo.retryDelay), if any.
  virtual std::optional<double> retry_after_seconds(const http::HttpResponse& response) const = 0;
};

// "openai", "azure", "anthropic", "gemini"; throws InvalidArgument otherwise.
std::unique_ptr<Codec> make_codec(std::string_view provider);

}  // namespace tg::providers
