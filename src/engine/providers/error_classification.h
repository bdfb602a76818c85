// Provider errors: the error envelopes of every provider, status classification, the message
// and advice of each error, and the scrubbing of keys from what is quoted. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/providers/codec.h"
#include "http/http.h"
#include "textgrad/errors.h"

namespace tg::providers {

// How a codec names itself in error messages.
struct ProviderInfo {
  std::string name;     // "OpenAI", "Anthropic", ...
  std::string key_env;  // where the user should look for the key, e.g. "ANTHROPIC_API_KEY"
};

// The fields of a provider error body, whichever envelope it came in: OpenAI
// {"error":{message,type,param,code}}, Anthropic {"type":"error","error":{type,message}},
// Gemini {"error":{code,message,status,details}} (also wrapped in an array), vLLM's flat
// {"object":"error",message,type,code} and {"error":"text"}.
struct ErrorEnvelope {
  bool found = false;
  std::string message;
  std::string type;
  std::string code;                  // a string or an int in the body; empty when absent or null
  std::string status;                // Gemini's canonical status name, e.g. "RESOURCE_EXHAUSTED"
  std::vector<std::string> reasons;  // Gemini ErrorInfo reasons, e.g. "API_KEY_INVALID"
  std::string retry_delay;           // Gemini RetryInfo.retryDelay, e.g. "57.2s"
};

ErrorEnvelope parse_error_envelope(std::string_view body);

// The kind for a non-2xx status, before any look at the body.
EngineErrorKind classify_status(int status);

// Picks the HTTP status an error reported inside a 2xx body stands for (OpenRouter sends
// mid-generation failures with 200): an int error.code, else Anthropic's error.type, else
// `fallback`.
int status_for_envelope(const ErrorEnvelope& envelope, int fallback);

// Throws the EngineError for an error answer, classified by `status` and the body.
[[noreturn]] void throw_http_error(const http::HttpResponse& response, int status,
                                   const ProviderInfo& provider, const ProviderConfig& config);

// Throws kMalformed, quoting the start of the body.
[[noreturn]] void throw_malformed(std::string_view what, const http::HttpResponse& response,
                                  const ProviderInfo& provider, const ProviderConfig& config);

// Every EngineError a codec throws is built here, so the key is scrubbed in one place.
// `billed`: the usage the answer reported, so a refused answer's tokens are still accounted.
EngineError make_error(EngineErrorKind kind, const std::string& message, int status,
                       const ProviderConfig& config, const Usage& billed = {});

// The first `max_chars` characters of `body` (after leading whitespace), key scrubbed first so
// that the cut can never leave a fragment of it.
std::string body_excerpt(std::string_view body, std::string_view secret,
                         std::size_t max_chars = 200);

// A JSON library error without the echo of the offending token, which can be the whole body.
std::string json_error_summary(std::string_view what);

}  // namespace tg::providers
