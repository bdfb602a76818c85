#include "engine/providers/error_classification.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

#include "engine/providers/codec_common.h"
#include "util/redact.h"
#include "util/text.h"

namespace tg::providers {
namespace {

using json = nlohmann::json;

// Messages from providers can be long (Gemini quota errors list every violated quota).
constexpr std::size_t kMaxQuotedMessage = 500;

// Cuts at most `max_bytes` without splitting a UTF-8 sequence, marking the cut.
std::string shortened(std::string_view text, std::size_t max_bytes) {
  const std::string_view prefix = util::utf8_prefix(text, max_bytes);
  return prefix.size() == text.size() ? std::string(text) : std::string(prefix) + "...";
}

std::string code_text(const json& code) {
  if (code.is_string()) return code.get<std::string>();
  if (code.is_number_integer()) return std::to_string(code.get<std::int64_t>());
  return {};
}

void read_details(const json& details, ErrorEnvelope& envelope) {
  if (!details.is_array()) return;
  for (const json& detail : details) {
    std::string reason = string_field(detail, "reason");
    if (!reason.empty()) envelope.reasons.push_back(reason);
    std::string type = string_field(detail, "@type");
    if (type.ends_with("google.rpc.RetryInfo")) {
      envelope.retry_delay = string_field(detail, "retryDelay");
    }
  }
}

const json* find_error_object(const json& document, ErrorEnvelope& envelope) {
  if (document.contains("error")) {
    const json& error = document["error"];
    if (error.is_string()) {  // {"error":"model not found"} (Ollama and others)
      envelope.found = true;
      envelope.message = error.get<std::string>();
      return nullptr;
    }
    return error.is_object() ? &error : nullptr;
  }
  // vLLM's older flat form.
  if (string_field(document, "object") == "error") return &document;
  return nullptr;
}

bool has_reason(const ErrorEnvelope& envelope, std::string_view reason) {
  return std::find(envelope.reasons.begin(), envelope.reasons.end(), reason) !=
         envelope.reasons.end();
}

bool is_context_overflow(const ErrorEnvelope& envelope) {
  static constexpr std::array<std::string_view, 4> kMessageMarkers = {
      "prompt is too long",                    // Anthropic
      "exceeds the maximum number of tokens",  // Gemini
      "maximum context length",                // OpenAI, vLLM
      "context_length_exceeded",
  };
  if (envelope.code == "context_length_exceeded") return true;
  // llama-server puts its marker in type (and some versions in code).
  if (envelope.type == "exceed_context_size_error" ||
      envelope.code == "exceed_context_size_error") {
    return true;
  }
  return std::any_of(kMessageMarkers.begin(), kMessageMarkers.end(), [&](std::string_view marker) {
    return util::contains_ci(envelope.message, marker);
  });
}

EngineErrorKind classify(int status, const ErrorEnvelope& envelope) {
  EngineErrorKind kind = classify_status(status);
  if (kind != EngineErrorKind::kBadRequest) return kind;
  // Gemini answers a bad key with 400, not 401.
  if (has_reason(envelope, "API_KEY_INVALID")) return EngineErrorKind::kAuthentication;
  if (is_context_overflow(envelope)) return EngineErrorKind::kContextLength;
  // Azure's filter rejects the prompt itself with a 400.
  if (envelope.code == "content_filter") return EngineErrorKind::kRefusal;
  return EngineErrorKind::kBadRequest;
}

// "(RESOURCE_EXHAUSTED)", "(tokens, rate_limit_exceeded)": the provider's own names for the
// error, leaving out a code that only repeats the status.
std::string error_tag(const ErrorEnvelope& envelope, int status) {
  const std::string status_text = std::to_string(status);
  std::vector<std::string> parts;
  for (const std::string* field : {&envelope.status, &envelope.type, &envelope.code}) {
    if (field->empty() || *field == status_text) continue;
    if (std::find(parts.begin(), parts.end(), *field) == parts.end()) parts.push_back(*field);
  }
  return parts.empty() ? std::string() : fmt::format(" ({})", fmt::join(parts, ", "));
}

std::string auth_advice(const ProviderInfo& provider, const ProviderConfig& config) {
  if (config.api_key.empty()) {
    return fmt::format("No API key was configured; set {}.", provider.key_env);
  }
  return fmt::format("Check the API key in {}: it is wrong, expired or lacks access to this model.",
                     provider.key_env);
}

// APIs answer where they are asked; a redirect means the base URL points somewhere else
// (http:// for https://, a web page instead of the API, a missing /v1).
std::string redirect_advice(const http::HttpResponse& response) {
  const std::string location = header_value(response.headers, "location");
  return fmt::format(
      "The server answered with a redirect{}; LLM APIs do not redirect, so the base URL is "
      "probably wrong (http:// instead of https://, a web page instead of the API, a missing "
      "path such as /v1). Set the base URL to the address the API itself answers at.",
      location.empty() ? "" : fmt::format(" to {}", http::url_without_credentials(location)));
}

std::string advice(EngineErrorKind kind, int status, const ErrorEnvelope& envelope,
                   const ProviderInfo& provider, const ProviderConfig& config) {
  switch (kind) {
    case EngineErrorKind::kRateLimited:
      if (envelope.code == "insufficient_quota" || envelope.type == "insufficient_quota") {
        return "The account's quota is used up; check billing and plan limits.";
      }
      return "The provider is rate limiting requests; lower the concurrency or check the "
             "plan's limits.";
    case EngineErrorKind::kTimeout:
      return "The server timed out handling the request; try again later.";
    case EngineErrorKind::kServer:
      return "The provider had a server-side problem or is overloaded; this is usually "
             "temporary: try again later.";
    case EngineErrorKind::kAuthentication:
      return auth_advice(provider, config);
    case EngineErrorKind::kContextLength:
      return "The prompt is longer than the model's context window: shorten the prompt (fewer "
             "or shorter inputs) or use a model with a longer context.";
    case EngineErrorKind::kRefusal:
      return "The provider's content filter rejected the prompt; rephrase the input.";
    case EngineErrorKind::kConnection:
      return "No HTTP answer arrived; check the base URL and the network.";
    default:
      break;
  }
  if (status == 404) {
    return fmt::format("Check the model name \"{}\" and the base URL.", config.model);
  }
  return fmt::format(
      "The provider rejected the request; check the model name \"{}\" and the sampling "
      "parameters.",
      config.model);
}

int anthropic_error_status(std::string_view type) {
  static constexpr std::array<std::pair<std::string_view, int>, 10> kStatuses = {{
      {"invalid_request_error", 400},
      {"authentication_error", 401},
      {"billing_error", 402},
      {"permission_error", 403},
      {"not_found_error", 404},
      {"request_too_large", 413},
      {"rate_limit_error", 429},
      {"api_error", 500},
      {"timeout_error", 504},
      {"overloaded_error", 529},
  }};
  for (const auto& [name, status] : kStatuses) {
    if (name == type) return status;
  }
  return 0;
}

}  // namespace

ErrorEnvelope parse_error_envelope(std::string_view body) {
  ErrorEnvelope envelope;
  json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  // Gemini's non-SSE streaming endpoint wraps errors in an array.
  if (document.is_array() && !document.empty()) document = document[0];
  if (!document.is_object()) return envelope;
  const json* error = find_error_object(document, envelope);
  if (error == nullptr) return envelope;
  envelope.found = true;
  envelope.message = string_field(*error, "message");
  envelope.type = string_field(*error, "type");
  envelope.code = code_text(object_field(*error, "code"));
  envelope.status = string_field(*error, "status");
  read_details(object_field(*error, "details"), envelope);
  return envelope;
}

EngineErrorKind classify_status(int status) {
  if (status == 0) return EngineErrorKind::kConnection;
  if (status == 401 || status == 403) return EngineErrorKind::kAuthentication;
  if (status == 408) return EngineErrorKind::kTimeout;
  if (status == 429) return EngineErrorKind::kRateLimited;
  // 409 is a conflict the SDKs retry (e.g. a concurrent request with the same idempotency key).
  if (status == 409 || status >= 500) return EngineErrorKind::kServer;
  return EngineErrorKind::kBadRequest;
}

int status_for_envelope(const ErrorEnvelope& envelope, int fallback) {
  if (std::optional<int> code = util::parse_int(envelope.code);
      code && *code >= 400 && *code <= 599) {
    return *code;
  }
  if (int status = anthropic_error_status(envelope.type); status != 0) return status;
  return fallback;
}

void throw_http_error(const http::HttpResponse& response, int status, const ProviderInfo& provider,
                      const ProviderConfig& config) {
  const ErrorEnvelope envelope = parse_error_envelope(response.body);
  const EngineErrorKind kind = classify(status, envelope);
  std::string quoted;
  if (envelope.found && !envelope.message.empty()) {
    // Scrub before cutting so that no fragment of the key can survive the cut.
    const std::string scrubbed = util::redact(envelope.message, config.api_key);
    quoted = fmt::format("\"{}\"", shortened(scrubbed, kMaxQuotedMessage));
  } else if (util::is_blank(response.body)) {
    quoted = "(empty body)";
  } else {
    quoted = fmt::format("body \"{}\"", body_excerpt(response.body, config.api_key));
  }
  const bool redirect = status >= 300 && status <= 399;
  std::string message = fmt::format(
      "{} API error: HTTP {}{}: {}. {}", provider.name, status, error_tag(envelope, status), quoted,
      redirect ? redirect_advice(response) : advice(kind, status, envelope, provider, config));
  throw make_error(kind, message, status, config);
}

void throw_malformed(std::string_view what, const http::HttpResponse& response,
                     const ProviderInfo& provider, const ProviderConfig& config) {
  std::string message = fmt::format(
      "{} answered HTTP {} but {}; body starts \"{}\". The server may not speak this provider's "
      "API: check the provider and base URL.",
      provider.name, response.status, what, body_excerpt(response.body, config.api_key));
  throw make_error(EngineErrorKind::kMalformed, message, response.status, config);
}

std::string json_error_summary(std::string_view what) {
  what = what.substr(0, what.find("; last read"));
  return shortened(what, 160);
}

EngineError make_error(EngineErrorKind kind, const std::string& message, int status,
                       const ProviderConfig& config, const Usage& billed) {
  return EngineError(kind, util::redact(message, config.api_key), status, billed);
}

std::string body_excerpt(std::string_view body, std::string_view secret, std::size_t max_chars) {
  const std::string scrubbed = util::redact(std::string(util::trim_left(body)), secret);
  return shortened(scrubbed, max_chars);
}

}  // namespace tg::providers
