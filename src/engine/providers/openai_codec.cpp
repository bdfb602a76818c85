// OpenAI Chat Completions, as spoken by OpenAI, Azure OpenAI and the compatible servers
// (vLLM, Ollama, LM Studio, llama-server, Groq, Together, OpenRouter, DeepSeek).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "engine/providers/codec_common.h"
#include "engine/providers/openai_answer.h"
#include "util/json_dump.h"
#include "util/json_writer.h"

namespace tg::providers {
namespace {

using Json = nlohmann::json;
// A schema keeps the member order the caller wrote it in.
using OrderedJson = nlohmann::ordered_json;

// Azure requires an api-version; this is its GA version at the time of writing.
constexpr const char* kDefaultAzureApiVersion = "2024-10-21";

void write_image(util::JsonWriter& out, const ContentPart& image) {
  out.begin_object().key("type").string("image_url").key("image_url").begin_object();
  out.key("url").string(data_url(image.media_type, image.data)).end_object().end_object();
}

void write_sampling(util::JsonWriter& out, const SamplingParams& sampling,
                    const ProviderConfig& config) {
  if (sampling.temperature) out.key("temperature").number(*sampling.temperature);
  if (sampling.top_p) out.key("top_p").number(*sampling.top_p);
  if (sampling.seed) out.key("seed").number(*sampling.seed);
  if (!sampling.stop.empty()) out.key("stop").strings(sampling.stop);
  if (sampling.max_tokens) {
    out.key(config.use_max_completion_tokens ? "max_completion_tokens" : "max_tokens")
        .number(std::int64_t{*sampling.max_tokens});
  }
  if (!sampling.json_schema.empty()) {
    out.key("response_format").begin_object().key("type").string("json_schema");
    out.key("json_schema")
        .begin_object()
        .key("name")
        .string(schema_name(sampling.json_schema_name));
    out.key("schema").raw(util::dump_json(parse_schema<OrderedJson>(sampling)));
    out.key("strict").boolean(true).end_object().end_object();
  }
}

class OpenAiCodec final : public Codec {
 public:
  explicit OpenAiCodec(bool azure) : azure_(azure) {}

  http::HttpRequest encode(const Request& request, const SamplingParams& sampling,
                           const ProviderConfig& config) const override {
    // Note [Writing requests directly]
    util::JsonWriter body;
    body.begin_object().key("model").string(config.model).key("messages").begin_array();
    if (!request.system_prompt.empty()) {
      body.begin_object().key("role").string("system");
      body.key("content").string(request.system_prompt).end_object();
    }
    body.begin_object().key("role").string("user").key("content");
    write_user_content(body, request.content, write_image);
    body.end_object().end_array();
    write_sampling(body, sampling, config);
    body.end_object();

    http::HttpRequest out;
    out.url = url(config);
    out.body = body.take();
    out.headers.emplace_back("Content-Type", "application/json");
    if (!config.api_key.empty()) {
      if (azure_) {
        out.headers.emplace_back("api-key", config.api_key);
      } else {
        out.headers.emplace_back("Authorization", "Bearer " + config.api_key);
      }
    }
    out.headers.insert(out.headers.end(), config.extra_headers.begin(), config.extra_headers.end());
    return out;
  }

  Response decode(const http::HttpResponse& response, const ProviderConfig& config) const override {
    const ProviderInfo provider = info(config);
    return decode_or_throw<Json>(response, provider, config,
                                 [&] { return decode_success(response, provider, config); });
  }

  std::optional<double> retry_after_seconds(const http::HttpResponse& response) const override {
    if (auto delay = retry_after_from_headers(response, std::chrono::system_clock::now())) {
      return delay;
    }
    return retry_after_from_message(parse_error_envelope(response.body).message);
  }

 private:
  std::string url(const ProviderConfig& config) const {
    if (!azure_) return config.base_url + "/chat/completions";
    const std::string& version =
        config.azure_api_version.empty() ? kDefaultAzureApiVersion : config.azure_api_version;
    return fmt::format("{}/openai/deployments/{}/chat/completions?api-version={}", config.base_url,
                       url_encode(config.model), url_encode(version));
  }

  ProviderInfo info(const ProviderConfig& config) const {
    if (azure_) return {"Azure OpenAI", "AZURE_OPENAI_API_KEY"};
    if (config.base_url.empty() || contains_ci(config.base_url, "api.openai.com")) {
      return {"OpenAI", "OPENAI_API_KEY"};
    }
    return {"OpenAI-compatible server",
            "OPENAI_API_KEY (or the key variable of the server in use, e.g. GROQ_API_KEY)"};
  }

  Response decode_success(const http::HttpResponse& response, const ProviderInfo& provider,
                          const ProviderConfig& config) const {
    const OpenAiAnswer answer = read_answer(response, provider, config);
    // OpenRouter reports failures after generation started as a 200 with an error body.
    if (answer.has_error && !answer.has_choices) {
      const int status = status_for_envelope(parse_error_envelope(response.body), 500);
      throw_http_error(response, status, provider, config);
    }
    if (!answer.has_first_choice) throw_malformed("it has no choices", response, provider, config);
    if (!answer.message_is_object) {
      throw_malformed("choices[0].message is missing", response, provider, config);
    }

    Response out;
    out.finish_reason = answer.finish_reason;
    out.model = answer.model;
    out.usage = answer.usage;
    check_finish(answer.refusal, out, response, provider, config);
    if (answer.content == OpenAiAnswer::Content::kOther) {
      throw_malformed("choices[0].message.content is neither text nor parts", response, provider,
                      config);
    }
    out.text = answer.text;
    if (is_blank(out.text)) {
      throw make_error(EngineErrorKind::kEmptyAnswer,
                       fmt::format("{} returned no answer text (finish_reason \"{}\"). Retry, or "
                                   "check that the model \"{}\" is a chat model.",
                                   provider.name, out.finish_reason, config.model),
                       response.status, config, out.usage);
    }
    return out;
  }

  // The body of a 2xx answer; kMalformed when it is not a JSON object.
  static OpenAiAnswer read_answer(const http::HttpResponse& response, const ProviderInfo& provider,
                                  const ProviderConfig& config) {
    if (is_blank(response.body)) throw_malformed("the body is empty", response, provider, config);
    OpenAiAnswer answer;
    try {
      answer = read_openai_answer(response.body);
    } catch (const Json::exception& e) {
      throw_malformed("the body is not valid JSON (" + json_error_summary(e.what()) + ")", response,
                      provider, config);
    }
    if (!answer.is_object) {
      throw_malformed("the body is not a JSON object", response, provider, config);
    }
    return answer;
  }

  static void check_finish(const std::string& refusal, const Response& out,
                           const http::HttpResponse& response, const ProviderInfo& provider,
                           const ProviderConfig& config) {
    if (!refusal.empty()) {
      throw make_error(
          EngineErrorKind::kRefusal,
          fmt::format("{} refused to answer: \"{}\". Rephrase the prompt.", provider.name, refusal),
          response.status, config, out.usage);
    }
    if (out.finish_reason == "content_filter") {
      throw make_error(EngineErrorKind::kRefusal,
                       fmt::format("{}'s content filter removed the answer (finish_reason "
                                   "\"content_filter\"). Rephrase the prompt.",
                                   provider.name),
                       response.status, config, out.usage);
    }
    if (out.finish_reason == "length") {
      throw make_error(
          EngineErrorKind::kTruncated,
          fmt::format("{}'s answer was cut off at the output token limit after {} tokens "
                      "(finish_reason \"length\"). Raise max_tokens (reasoning models spend part "
                      "of it on hidden reasoning) or ask for a shorter answer.",
                      provider.name, out.usage.output_tokens),
          response.status, config, out.usage);
    }
  }

  bool azure_;
};

}  // namespace

std::unique_ptr<Codec> make_openai_codec(bool azure) {
  return std::make_unique<OpenAiCodec>(azure);
}

}  // namespace tg::providers
