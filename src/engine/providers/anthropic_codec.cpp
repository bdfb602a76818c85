// Anthropic Messages API.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "engine/providers/codec_common.h"
#include "util/json_dump.h"
#include "util/json_writer.h"

namespace tg::providers {
namespace {

using Json = nlohmann::json;
// A schema keeps the member order the caller wrote it in.
using OrderedJson = nlohmann::ordered_json;

constexpr const char* kApiVersion = "2023-06-01";
// max_tokens is required by the API; this matches SamplingParams' own default.
constexpr int kDefaultMaxTokens = 2000;

void write_image(util::JsonWriter& out, const ContentPart& image) {
  out.begin_object().key("type").string("image").key("source").begin_object();
  out.key("type").string("base64").key("media_type").string(image.media_type);
  out.key("data").string(base64_encode(image.data)).end_object().end_object();
}

void write_sampling(util::JsonWriter& out, const SamplingParams& sampling) {
  if (sampling.temperature) out.key("temperature").number(*sampling.temperature);
  // Newer Claude models reject requests that set both temperature and top_p, and the defaults
  // set both. Temperature is the knob TextGrad tunes, so top_p is only sent without it.
  if (sampling.top_p && !sampling.temperature) out.key("top_p").number(*sampling.top_p);
  if (!sampling.stop.empty()) out.key("stop_sequences").strings(sampling.stop);
  // The API has no seed parameter; SamplingParams::seed is dropped.
  if (!sampling.json_schema.empty()) {
    out.key("output_config").begin_object().key("format").begin_object();
    out.key("type").string("json_schema");
    out.key("schema").raw(util::dump_json(parse_schema<OrderedJson>(sampling)));
    out.end_object().end_object();
  }
}

Usage read_usage(const Json& usage) {
  Usage out;
  const std::int64_t cache_write = count_field(usage, "cache_creation_input_tokens");
  const std::int64_t cache_read = count_field(usage, "cache_read_input_tokens");
  // input_tokens counts only the uncached remainder of the prompt.
  out.input_tokens = add_counts({count_field(usage, "input_tokens"), cache_write, cache_read});
  out.output_tokens = count_field(usage, "output_tokens");
  out.cached_input_tokens = cache_read;
  return out;
}

std::string text_of(const Json& content, const http::HttpResponse& response,
                    const ProviderInfo& provider, const ProviderConfig& config) {
  if (!content.is_array()) throw_malformed("it has no content array", response, provider, config);
  std::string text;
  for (const Json& block : content) {
    if (string_field(block, "type") == "text") text += string_field(block, "text");
  }
  return text;
}

std::string refusal_detail(const Json& body) {
  const Json& details = object_field(body, "stop_details");
  std::string explanation = string_field(details, "explanation");
  std::string category = string_field(details, "category");
  if (explanation.empty() && category.empty()) return {};
  if (explanation.empty()) return fmt::format(" (category {})", category);
  if (category.empty()) return fmt::format(": \"{}\"", explanation);
  return fmt::format(" (category {}): \"{}\"", category, explanation);
}

class AnthropicCodec final : public Codec {
 public:
  http::HttpRequest encode(const Request& request, const SamplingParams& sampling,
                           const ProviderConfig& config) const override {
    // Note [Writing requests directly]
    util::JsonWriter body;
    body.begin_object().key("model").string(config.model);
    body.key("max_tokens").number(std::int64_t{sampling.max_tokens.value_or(kDefaultMaxTokens)});
    if (!request.system_prompt.empty()) body.key("system").string(request.system_prompt);
    body.key("messages").begin_array().begin_object().key("role").string("user");
    body.key("content");
    write_user_content(body, request.content, write_image);
    body.end_object().end_array();
    write_sampling(body, sampling);
    body.end_object();

    http::HttpRequest out;
    out.url = config.base_url + "/v1/messages";
    out.body = body.take();
    out.headers.emplace_back("Content-Type", "application/json");
    if (!config.api_key.empty()) out.headers.emplace_back("x-api-key", config.api_key);
    out.headers.emplace_back("anthropic-version", kApiVersion);
    out.headers.insert(out.headers.end(), config.extra_headers.begin(), config.extra_headers.end());
    return out;
  }

  Response decode(const http::HttpResponse& response, const ProviderConfig& config) const override {
    const ProviderInfo provider = {"Anthropic", "ANTHROPIC_API_KEY"};
    return decode_or_throw<Json>(response, provider, config,
                                 [&] { return decode_success(response, provider, config); });
  }

  std::optional<double> retry_after_seconds(const http::HttpResponse& response) const override {
    return retry_after_from_headers(response, std::chrono::system_clock::now());
  }

 private:
  static Response decode_success(const http::HttpResponse& response, const ProviderInfo& provider,
                                 const ProviderConfig& config) {
    const Json body = parse_object_body<Json>(response, provider, config);
    if (string_field(body, "type") == "error") {
      const int status = status_for_envelope(parse_error_envelope(response.body), 500);
      throw_http_error(response, status, provider, config);
    }
    Response out;
    out.finish_reason = string_field(body, "stop_reason");
    out.model = string_field(body, "model");
    out.usage = read_usage(object_field(body, "usage"));
    check_stop(body, out, response, config);
    out.text = text_of(object_field(body, "content"), response, provider, config);
    if (is_blank(out.text)) {
      throw make_error(EngineErrorKind::kEmptyAnswer,
                       fmt::format("Anthropic returned no answer text (stop_reason \"{}\"). "
                                   "Retry, or rephrase the prompt.",
                                   out.finish_reason),
                       response.status, config, out.usage);
    }
    return out;
  }

  static void check_stop(const Json& body, const Response& out, const http::HttpResponse& response,
                         const ProviderConfig& config) {
    if (out.finish_reason == "refusal") {
      throw make_error(EngineErrorKind::kRefusal,
                       fmt::format("Anthropic refused to answer (stop_reason \"refusal\"){}. "
                                   "Rephrase the prompt.",
                                   refusal_detail(body)),
                       response.status, config, out.usage);
    }
    if (out.finish_reason == "max_tokens") {
      throw make_error(EngineErrorKind::kTruncated,
                       fmt::format("Anthropic's answer was cut off at the output token limit "
                                   "after {} tokens (stop_reason \"max_tokens\"). Raise "
                                   "max_tokens or ask for a shorter answer.",
                                   out.usage.output_tokens),
                       response.status, config, out.usage);
    }
    if (out.finish_reason == "model_context_window_exceeded") {
      throw make_error(EngineErrorKind::kTruncated,
                       fmt::format("Anthropic's answer was cut off after {} tokens because "
                                   "prompt and answer filled the context window (stop_reason "
                                   "\"model_context_window_exceeded\"). Shorten the prompt or ask "
                                   "for a shorter answer.",
                                   out.usage.output_tokens),
                       response.status, config, out.usage);
    }
  }
};

}  // namespace

std::unique_ptr<Codec> make_anthropic_codec() { return std::make_unique<AnthropicCodec>(); }

}  // namespace tg::providers
