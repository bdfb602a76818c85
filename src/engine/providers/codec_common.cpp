#include "engine/providers/codec_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "textgrad/errors.h"

namespace tg::providers {
namespace {

using json = nlohmann::json;

// Messages from providers can be long (Gemini quota errors list every violated quota).
constexpr std::size_t kMaxQuotedMessage = 500;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ci(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view text) {
  text = trim_left(text);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// A whole-string, locale-independent number.
std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> non_negative(std::optional<double> value) {
  if (!value || *value < 0) return std::nullopt;
  return value;
}

// Cuts at most `max_bytes` without splitting a UTF-8 sequence.
std::string utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
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
    return contains_ci(envelope.message, marker);
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

// Splits an HTTP-date into words, dropping the separators of all three forms.
std::vector<std::string_view> date_tokens(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    bool separator =
        i == text.size() || text[i] == ' ' || text[i] == ',' || text[i] == '-' || text[i] == ':';
    if (!separator) continue;
    if (i > start) tokens.push_back(text.substr(start, i - start));
    start = i + 1;
  }
  return tokens;
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int> parse_month(std::string_view text) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (equals_ci(text, kMonths[i])) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm), so no
// dependence on the C library's time zone handling.
std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const std::int64_t year_of_era = year - era * 400;
  const std::int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
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
  if (std::optional<int> code = parse_int(envelope.code); code && *code >= 400 && *code <= 599) {
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
    const std::string scrubbed = redact(envelope.message, config.api_key);
    quoted = fmt::format("\"{}\"", utf8_prefix(scrubbed, kMaxQuotedMessage));
  } else if (is_blank(response.body)) {
    quoted = "(empty body)";
  } else {
    quoted = fmt::format("body \"{}\"", body_excerpt(response.body, config.api_key));
  }
  std::string message = fmt::format("{} API error: HTTP {}{}: {}. {}", provider.name, status,
                                    error_tag(envelope, status), quoted,
                                    advice(kind, status, envelope, provider, config));
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
  return utf8_prefix(what, 160);
}

EngineError make_error(EngineErrorKind kind, const std::string& message, int status,
                       const ProviderConfig& config) {
  return EngineError(kind, redact(message, config.api_key), status);
}

std::string redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  static constexpr std::string_view kMask = "[redacted]";
  for (std::size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + kMask.size())) {
    text.replace(at, secret.size(), kMask);
  }
  return text;
}

std::string body_excerpt(std::string_view body, std::string_view secret, std::size_t max_chars) {
  const std::string scrubbed = redact(std::string(trim_left(body)), secret);
  return utf8_prefix(scrubbed, max_chars);
}

std::string_view trim_left(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' ||
                           text.front() == '\n')) {
    text.remove_prefix(1);
  }
  return text;
}

bool is_blank(std::string_view text) { return trim_left(text).empty(); }

bool contains_ci(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return lower(a) == lower(b); }) != haystack.end();
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  std::uint32_t n = static_cast<std::uint8_t>(bytes[i]) << 16;
  if (rest == 2) n |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
  out += kAlphabet[(n >> 18) & 63];
  out += kAlphabet[(n >> 12) & 63];
  out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
  out += '=';
  return out;
}

std::string data_url(std::string_view media_type, std::string_view bytes) {
  return fmt::format("data:{};base64,{}", media_type, base64_encode(bytes));
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string schema_name(std::string_view name) {
  if (name.empty()) return "answer";
  std::string out(name.substr(0, 64));
  for (char& c : out) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!allowed) c = '_';
  }
  return out;
}

std::string header_value(const http::Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (equals_ci(key, name)) return value;
  }
  return {};
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  std::vector<std::string_view> tokens = date_tokens(trim(text));
  // The weekday carries no information.
  if (!tokens.empty() && !parse_month(tokens.front()) && !parse_int(tokens.front())) {
    tokens.erase(tokens.begin());
  }
  if (tokens.size() < 6) return std::nullopt;
  std::optional<int> day, month, year, hour, minute, second;
  if (parse_month(tokens[0])) {  // asctime: Nov 6 08:49:37 1994
    month = parse_month(tokens[0]);
    day = parse_int(tokens[1]);
    hour = parse_int(tokens[2]);
    minute = parse_int(tokens[3]);
    second = parse_int(tokens[4]);
    year = parse_int(tokens[5]);
  } else {  // IMF-fixdate 06 Nov 1994 08:49:37 GMT, RFC 850 06-Nov-94 08:49:37 GMT
    day = parse_int(tokens[0]);
    month = parse_month(tokens[1]);
    year = parse_int(tokens[2]);
    hour = parse_int(tokens[3]);
    minute = parse_int(tokens[4]);
    second = parse_int(tokens[5]);
    // RFC 850's two-digit year; RFC 9110 says to read it as the nearest plausible century.
    if (year && tokens[2].size() == 2) *year += *year < 70 ? 2000 : 1900;
  }
  if (!day || !month || !year || !hour || !minute || !second) return std::nullopt;
  if (*day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60 || *hour < 0 ||
      *minute < 0 || *second < 0) {
    return std::nullopt;
  }
  return days_from_civil(*year, *month, *day) * 86400 + *hour * 3600 + *minute * 60 + *second;
}

std::optional<double> parse_duration(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  double total = 0;
  while (!text.empty()) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 0) return std::nullopt;
    text.remove_prefix(end - text.data());
    if (text.starts_with("ms")) {
      total += value / 1000;
      text.remove_prefix(2);
    } else if (text.starts_with("h")) {
      total += value * 3600;
      text.remove_prefix(1);
    } else if (text.starts_with("m")) {
      total += value * 60;
      text.remove_prefix(1);
    } else if (text.starts_with("s")) {
      total += value;
      text.remove_prefix(1);
    } else {
      return std::nullopt;
    }
  }
  if (!std::isfinite(total)) return std::nullopt;
  return total;
}

std::optional<double> retry_after_from_headers(const http::HttpResponse& response,
                                               std::chrono::system_clock::time_point now) {
  if (std::string ms = header_value(response.headers, "retry-after-ms"); !ms.empty()) {
    if (std::optional<double> value = non_negative(parse_number(ms))) return *value / 1000;
  }
  const std::string retry_after = header_value(response.headers, "retry-after");
  if (retry_after.empty()) return std::nullopt;
  if (std::optional<double> seconds = parse_number(retry_after)) return non_negative(seconds);
  std::optional<std::int64_t> date = parse_http_date(retry_after);
  if (!date) return std::nullopt;
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  return std::max(0.0, static_cast<double>(*date) - now_s);
}

std::optional<double> retry_after_from_message(std::string_view message) {
  // OpenAI: "Please try again in 5.289s."; Gemini: "Please retry in 57.2s."
  static constexpr std::array<std::string_view, 2> kMarkers = {"try again in ", "retry in "};
  for (std::string_view marker : kMarkers) {
    auto it = std::search(message.begin(), message.end(), marker.begin(), marker.end(),
                          [](char a, char b) { return lower(a) == lower(b); });
    if (it == message.end()) continue;
    std::string_view rest = message.substr((it - message.begin()) + marker.size());
    rest = rest.substr(0, rest.find_first_of(" \t\r\n,;"));
    while (!rest.empty() && rest.back() == '.') rest.remove_suffix(1);
    return parse_duration(rest);
  }
  return std::nullopt;
}

std::unique_ptr<Codec> make_codec(std::string_view provider) {
  if (provider == "openai") return make_openai_codec(/*azure=*/false);
  if (provider == "azure") return make_openai_codec(/*azure=*/true);
  if (provider == "anthropic") return make_anthropic_codec();
  if (provider == "gemini") return make_gemini_codec();
  throw InvalidArgument(fmt::format(
      "unknown provider \"{}\"; expected one of openai, azure, anthropic, gemini", provider));
}

}  // namespace tg::providers
