// Gemini API generateContent (v1beta, proto JSON with lowerCamelCase names).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "engine/providers/codec_common.h"
#include "util/json_dump.h"
#include "util/json_writer.h"

namespace tg::providers {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Finish reasons meaning a filter removed the answer. RECITATION (copyright) is included: the
// answer is withheld just the same.
constexpr std::array<std::string_view, 8> kFilteredReasons = {
    "SAFETY",     "BLOCKLIST",    "PROHIBITED_CONTENT",       "SPII",
    "RECITATION", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"};

bool is_filtered(std::string_view finish_reason) {
  return std::find(kFilteredReasons.begin(), kFilteredReasons.end(), finish_reason) !=
         kFilteredReasons.end();
}

std::string model_path(const std::string& model) {
  // Accept both "gemini-2.5-flash" and resource names such as "tunedModels/x".
  if (model.starts_with("models/") || model.starts_with("tunedModels/")) return model;
  return "models/" + model;
}

void write_user_parts(util::JsonWriter& out, const std::vector<ContentPart>& parts,
                      const ProviderConfig& config) {
  out.begin_array();
  for (const ContentPart& part : parts) {
    // Gemini takes PNG, JPEG, WEBP, HEIC and HEIF images; a GIF is refused here rather than
    // paid for and rejected by the provider.
    if (part.is_image() && part.media_type == "image/gif") {
      throw make_error(EngineErrorKind::kUnsupported,
                       "Gemini does not accept GIF images: convert the image to PNG or JPEG "
                       "(e.g. `convert in.gif out.png`), or use an OpenAI or Anthropic model",
                       0, config);
    }
    out.begin_object();
    if (part.is_image()) {
      out.key("inlineData").begin_object().key("mimeType").string(part.media_type);
      out.key("data").string(base64_encode(part.data)).end_object();
    } else {
      out.key("text").string(part.text);
    }
    out.end_object();
  }
  // A Content needs at least one part.
  if (parts.empty()) out.begin_object().key("text").string("").end_object();
  out.end_array();
}

void write_generation_config(util::JsonWriter& out, const SamplingParams& sampling) {
  if (!sampling.temperature && !sampling.top_p && !sampling.max_tokens && !sampling.seed &&
      sampling.stop.empty() && sampling.json_schema.empty()) {
    return;  // an empty generationConfig is left out
  }
  out.key("generationConfig").begin_object();
  if (sampling.temperature) out.key("temperature").number(*sampling.temperature);
  if (sampling.top_p) out.key("topP").number(*sampling.top_p);
  if (sampling.max_tokens) out.key("maxOutputTokens").number(std::int64_t{*sampling.max_tokens});
  if (sampling.seed) out.key("seed").number(*sampling.seed);
  if (!sampling.stop.empty()) out.key("stopSequences").strings(sampling.stop);
  if (!sampling.json_schema.empty()) {
    // A schema without the JSON MIME type is rejected.
    out.key("responseMimeType").string("application/json");
    out.key("responseJsonSchema").raw(util::dump_json(parse_schema<OrderedJson>(sampling)));
  }
  out.end_object();
}

Usage read_usage(const Json& usage) {
  Usage out;
  // promptTokenCount already includes cached content.
  out.input_tokens = count_field(usage, "promptTokenCount");
  // Thinking tokens are billed as output, like OpenAI's completion_tokens, which include them.
  out.output_tokens = add_counts(
      {count_field(usage, "candidatesTokenCount"), count_field(usage, "thoughtsTokenCount")});
  out.cached_input_tokens = count_field(usage, "cachedContentTokenCount");
  return out;
}

// A candidate stopped by a filter may have no content at all.
std::string text_of(const Json& candidate) {
  std::string text;
  const Json& parts = object_field(object_field(candidate, "content"), "parts");
  if (!parts.is_array()) return text;
  for (const Json& part : parts) {
    const Json& thought = object_field(part, "thought");
    if (thought.is_boolean() && thought.get<bool>()) continue;
    text += string_field(part, "text");
  }
  return text;
}

class GeminiCodec final : public Codec {
 public:
  http::HttpRequest encode(const Request& request, const SamplingParams& sampling,
                           const ProviderConfig& config) const override {
    // Note [Writing requests directly]
    util::JsonWriter body;
    body.begin_object();
    if (!request.system_prompt.empty()) {
      body.key("systemInstruction").begin_object().key("parts").begin_array();
      body.begin_object().key("text").string(request.system_prompt).end_object();
      body.end_array().end_object();
    }
    body.key("contents").begin_array().begin_object().key("role").string("user").key("parts");
    write_user_parts(body, request.content, config);
    body.end_object().end_array();
    write_generation_config(body, sampling);
    body.end_object();

    http::HttpRequest out;
    out.url =
        fmt::format("{}/v1beta/{}:generateContent", config.base_url, model_path(config.model));
    out.body = body.take();
    out.headers.emplace_back("Content-Type", "application/json");
    if (!config.api_key.empty()) out.headers.emplace_back("x-goog-api-key", config.api_key);
    out.headers.insert(out.headers.end(), config.extra_headers.begin(), config.extra_headers.end());
    return out;
  }

  Response decode(const http::HttpResponse& response, const ProviderConfig& config) const override {
    const ProviderInfo provider = {"Gemini",
                                   "GEMINI_API_KEY (GOOGLE_API_KEY takes precedence when set)"};
    return decode_or_throw<Json>(response, provider, config,
                                 [&] { return decode_success(response, provider, config); });
  }

  std::optional<double> retry_after_seconds(const http::HttpResponse& response) const override {
    if (auto delay = retry_after_from_headers(response, std::chrono::system_clock::now())) {
      return delay;
    }
    const ErrorEnvelope envelope = parse_error_envelope(response.body);
    if (auto delay = parse_duration(envelope.retry_delay)) return delay;
    return retry_after_from_message(envelope.message);
  }

 private:
  static Response decode_success(const http::HttpResponse& response, const ProviderInfo& provider,
                                 const ProviderConfig& config) {
    const Json body = parse_object_body<Json>(response, provider, config);
    if (body.contains("error")) {
      const int status = status_for_envelope(parse_error_envelope(response.body), 500);
      throw_http_error(response, status, provider, config);
    }
    Response out;
    out.model = string_field(body, "modelVersion");
    out.usage = read_usage(object_field(body, "usageMetadata"));
    check_prompt_feedback(body, out, response, config);
    const Json& candidates = object_field(body, "candidates");
    if (!candidates.is_null() && !candidates.is_array()) {
      throw_malformed("candidates is not an array", response, provider, config);
    }
    if (candidates.is_array() && !candidates.empty()) {
      out.finish_reason = string_field(candidates[0], "finishReason");
      check_finish(candidates[0], out, response, config);
      out.text = text_of(candidates[0]);
    }
    if (is_blank(out.text)) {
      throw make_error(EngineErrorKind::kEmptyAnswer,
                       fmt::format("Gemini returned no answer text (finishReason \"{}\"). Retry, "
                                   "or rephrase the prompt.",
                                   out.finish_reason),
                       response.status, config, out.usage);
    }
    return out;
  }

  // A blocked prompt comes back as a 200 without candidates.
  static void check_prompt_feedback(const Json& body, const Response& out,
                                    const http::HttpResponse& response,
                                    const ProviderConfig& config) {
    const std::string reason = string_field(object_field(body, "promptFeedback"), "blockReason");
    if (reason.empty() || reason == "BLOCK_REASON_UNSPECIFIED") return;
    throw make_error(EngineErrorKind::kRefusal,
                     fmt::format("Gemini blocked the prompt (promptFeedback.blockReason \"{}\"). "
                                 "Rephrase the prompt.",
                                 reason),
                     response.status, config, out.usage);
  }

  static void check_finish(const Json& candidate, const Response& out,
                           const http::HttpResponse& response, const ProviderConfig& config) {
    if (is_filtered(out.finish_reason)) {
      std::string detail = string_field(candidate, "finishMessage");
      throw make_error(
          EngineErrorKind::kRefusal,
          fmt::format("Gemini withheld the answer (finishReason \"{}\"){}. "
                      "Rephrase the prompt.",
                      out.finish_reason, detail.empty() ? "" : fmt::format(": \"{}\"", detail)),
          response.status, config, out.usage);
    }
    if (out.finish_reason == "MAX_TOKENS") {
      throw make_error(EngineErrorKind::kTruncated,
                       fmt::format("Gemini's answer was cut off at the output token limit after "
                                   "{} tokens (finishReason \"MAX_TOKENS\"). Raise max_tokens "
                                   "(thinking models spend part of it on thoughts) or ask for a "
                                   "shorter answer.",
                                   out.usage.output_tokens),
                       response.status, config, out.usage);
    }
  }
};

}  // namespace

std::unique_ptr<Codec> make_gemini_codec() { return std::make_unique<GeminiCodec>(); }

}  // namespace tg::providers
