// Helpers shared by the provider codecs: error envelopes, status classification, Retry-After,
// base64, key redaction. Pure functions, no I/O.
//
// The header stays free of nlohmann/json: the few JSON accessors below are templates over the
// JSON type and are instantiated in the codec .cpp files.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
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
EngineError make_error(EngineErrorKind kind, const std::string& message, int status,
                       const ProviderConfig& config);

// `text` with every occurrence of `secret` replaced; unchanged when `secret` is empty.
std::string redact(std::string text, std::string_view secret);

// The first `max_chars` characters of `body` (after leading whitespace), key scrubbed first so
// that the cut can never leave a fragment of it.
std::string body_excerpt(std::string_view body, std::string_view secret,
                         std::size_t max_chars = 200);

std::string_view trim_left(std::string_view text);
bool is_blank(std::string_view text);
bool contains_ci(std::string_view haystack, std::string_view needle);

std::string base64_encode(std::string_view bytes);
// "data:image/png;base64,...."
std::string data_url(std::string_view media_type, std::string_view bytes);

// Percent-encodes everything outside RFC 3986's unreserved set.
std::string url_encode(std::string_view text);

// Case-insensitive header lookup; empty when absent.
std::string header_value(const http::Headers& headers, std::string_view name);

// Seconds since the Unix epoch for an HTTP-date (IMF-fixdate, RFC 850 or asctime form).
std::optional<std::int64_t> parse_http_date(std::string_view text);

// Durations as servers write them: "57.2s", "20ms", "1m30s", "6m0s", "1h2m3.5s".
std::optional<double> parse_duration(std::string_view text);

// retry-after-ms, then Retry-After (seconds, fractional seconds or HTTP-date relative to `now`).
std::optional<double> retry_after_from_headers(const http::HttpResponse& response,
                                               std::chrono::system_clock::time_point now);

// A delay named in an error message: OpenAI's "Please try again in 5.289s.", Gemini's
// "Please retry in 57.2s."
std::optional<double> retry_after_from_message(std::string_view message);

// A JSON library error without the echo of the offending token, which can be the whole body.
std::string json_error_summary(std::string_view what);

// JSON accessors, generic so this header need not include nlohmann/json. Absent, null and
// wrongly typed fields read as empty / zero: providers omit default-valued fields.
template <class Json>
std::string string_field(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->template get<std::string>();
}

template <class Json>
std::int64_t count_field(const Json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return 0;
  return it->is_number_float() ? static_cast<std::int64_t>(it->template get<double>())
                               : it->template get<std::int64_t>();
}

template <class Json>
const Json& object_field(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The body of a 2xx answer as a JSON object; kMalformed when it is not one.
template <class Json>
Json parse_object_body(const http::HttpResponse& response, const ProviderInfo& provider,
                       const ProviderConfig& config) {
  if (is_blank(response.body)) throw_malformed("the body is empty", response, provider, config);
  Json body;
  try {
    body = Json::parse(response.body);
  } catch (const std::exception& e) {
    throw_malformed("the body is not valid JSON (" + json_error_summary(e.what()) + ")", response,
                    provider, config);
  }
  if (!body.is_object())
    throw_malformed("the body is not a JSON object", response, provider, config);
  return body;
}

// The shape every codec's decode() shares: a non-2xx status becomes the classified HTTP error,
// and a 2xx body whose fields have unexpected types is malformed.
template <class Json, class DecodeSuccess>
Response decode_or_throw(const http::HttpResponse& response, const ProviderInfo& provider,
                         const ProviderConfig& config, DecodeSuccess decode_success) {
  if (response.status < 200 || response.status > 299) {
    throw_http_error(response, response.status, provider, config);
  }
  try {
    return decode_success();
  } catch (const typename Json::exception& e) {
    throw_malformed("a field has an unexpected type (" + json_error_summary(e.what()) + ")",
                    response, provider, config);
  }
}

// SamplingParams::json_schema as a JSON object; InvalidArgument when it is not one.
template <class Json>
Json parse_schema(const SamplingParams& sampling) {
  Json schema;
  try {
    schema = Json::parse(sampling.json_schema);
  } catch (const std::exception& e) {
    throw InvalidArgument(std::string("SamplingParams::json_schema is not valid JSON: ") +
                          e.what());
  }
  if (!schema.is_object()) {
    throw InvalidArgument("SamplingParams::json_schema must be a JSON object (a JSON Schema)");
  }
  return schema;
}

// OpenAI restricts schema names to [A-Za-z0-9_-]{1,64}; anything else becomes '_'.
std::string schema_name(std::string_view name);

std::unique_ptr<Codec> make_openai_codec(bool azure);
std::unique_ptr<Codec> make_anthropic_codec();
std::unique_ptr<Codec> make_gemini_codec();

}  // namespace tg::providers
