// Gemini generateContent codec.
#include <gtest/gtest.h>

#include <limits>

#include "engine/providers/codec.h"
#include "engine/providers/codec_common.h"
#include "provider_codec_test_util.h"

namespace tg::providers {
namespace {

using nlohmann::json;
using testing::body_json;
using testing::decode_error;
using testing::kSecretKey;
using testing::reply;

class GeminiCodecTest : public ::testing::Test {
 protected:
  GeminiCodecTest() {
    config.provider = "gemini";
    config.model = "gemini-2.5-flash";
    config.base_url = "https://generativelanguage.googleapis.com";
    config.api_key = kSecretKey;
  }

  http::HttpRequest encode(const Request& request, const SamplingParams& sampling = {}) {
    return codec->encode(request, sampling, config);
  }
  Response decode(std::string body) { return codec->decode(reply(200, std::move(body)), config); }
  std::optional<EngineError> error(int status, std::string body) {
    return decode_error(*codec, reply(status, std::move(body)), config);
  }

  std::unique_ptr<Codec> codec = make_codec("gemini");
  ProviderConfig config;
};

std::string candidate_with(const std::string& parts, const std::string& finish_reason) {
  return R"({"candidates":[{"content":{"role":"model","parts":)" + parts + R"(},"finishReason":")" +
         finish_reason +
         R"(","index":0}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":4,)"
         R"("totalTokenCount":16},"modelVersion":"gemini-2.5-flash"})";
}

std::string gemini_error(int code, const std::string& status, const std::string& message,
                         const std::string& details = "[]") {
  return R"({"error":{"code":)" + std::to_string(code) + R"(,"message":")" + message +
         R"(","status":")" + status + R"(","details":)" + details + "}}";
}

// ---- encode -------------------------------------------------------------------------------

// The body as the codec built it before it wrote requests directly: Note [Writing requests
// directly] keeps these bytes.
std::string body_built_as_a_document(const Request& request, const SamplingParams& sampling) {
  using Ordered = nlohmann::ordered_json;
  Ordered body = Ordered::object();
  if (!request.system_prompt.empty()) {
    const Ordered text = {{"text", request.system_prompt}};
    body["systemInstruction"] = {{"parts", Ordered::array({text})}};
  }
  Ordered parts = Ordered::array();
  for (const ContentPart& part : request.content) {
    if (part.is_image()) {
      parts.push_back(
          {{"inlineData", {{"mimeType", part.media_type}, {"data", base64_encode(part.data)}}}});
    } else {
      parts.push_back({{"text", part.text}});
    }
  }
  if (parts.empty()) parts.push_back({{"text", ""}});
  const Ordered user = {{"role", "user"}, {"parts", parts}};
  body["contents"] = Ordered::array({user});
  Ordered generation = Ordered::object();
  if (sampling.temperature) generation["temperature"] = *sampling.temperature;
  if (sampling.top_p) generation["topP"] = *sampling.top_p;
  if (sampling.max_tokens) generation["maxOutputTokens"] = *sampling.max_tokens;
  if (sampling.seed) generation["seed"] = *sampling.seed;
  if (!sampling.stop.empty()) generation["stopSequences"] = sampling.stop;
  if (!sampling.json_schema.empty()) {
    generation["responseMimeType"] = "application/json";
    generation["responseJsonSchema"] = Ordered::parse(sampling.json_schema);
  }
  if (!generation.empty()) body["generationConfig"] = generation;
  return body.dump();
}

TEST_F(GeminiCodecTest, WritesTheBytesTheDocumentGave) {
  for (const Request& request : testing::encoder_requests()) {
    for (const SamplingParams& sampling : testing::encoder_samplings()) {
      EXPECT_EQ(encode(request, sampling).body, body_built_as_a_document(request, sampling))
          << request.user_text();
    }
  }
}

TEST_F(GeminiCodecTest, TextOnlyWireBytesUrlAndHeaders) {
  http::HttpRequest request = encode(Request::Text("Hi"));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url,
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.5-flash:generateContent");
  EXPECT_EQ(request.body,
            R"({"contents":[{"role":"user","parts":[{"text":"Hi"}]}],)"
            R"("generationConfig":{"temperature":0.0,"topP":0.99,"maxOutputTokens":2000}})");
  http::Headers expected = {{"Content-Type", "application/json"}, {"x-goog-api-key", kSecretKey}};
  EXPECT_EQ(request.headers, expected);
}

TEST_F(GeminiCodecTest, ModelResourceNamesAreKept) {
  config.model = "tunedModels/my-model";
  EXPECT_EQ(encode(Request::Text("Hi")).url,
            "https://generativelanguage.googleapis.com/v1beta/tunedModels/"
            "my-model:generateContent");
  config.model = "models/gemini-2.5-pro";
  EXPECT_EQ(encode(Request::Text("Hi")).url,
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.5-pro:generateContent");
}

TEST_F(GeminiCodecTest, SystemInstruction) {
  json body =
      body_json(encode(Request::Text("Colour?", "Answer in JSON."), testing::no_sampling()));
  EXPECT_EQ(body, json::parse(R"({"systemInstruction":{"parts":[{"text":"Answer in JSON."}]},
      "contents":[{"role":"user","parts":[{"text":"Colour?"}]}]})"));
}

TEST_F(GeminiCodecTest, ImagesAsInlineDataInOrder) {
  json body = body_json(encode(testing::mixed_request(""), testing::no_sampling()));
  EXPECT_EQ(body, json::parse(R"({"contents":[{"role":"user","parts":[
      {"text":"Compare these."},
      {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
      {"inlineData":{"mimeType":"image/jpeg","data":"/9j/4A=="}},
      {"text":"Which?"}]}]})"));
}

TEST_F(GeminiCodecTest, EverySamplingParameter) {
  json body = body_json(encode(Request::Text("Hi"), testing::all_sampling()));
  EXPECT_EQ(body["generationConfig"], json::parse(R"({"temperature":0.7,"topP":0.5,
      "maxOutputTokens":50,"seed":7,"stopSequences":["\n\n","END"]})"));
}

TEST_F(GeminiCodecTest, GifImagesAreRefusedBeforeSending) {
  Request request = Request::Text("what is this?");
  request.content.push_back(ContentPart::Image("image/gif", "GIF89a...."));
  try {
    encode(request);
    ADD_FAILURE() << "a GIF was encoded";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.kind(), EngineErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("GIF"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("PNG or JPEG"), std::string::npos) << e.what();
  }
}

TEST_F(GeminiCodecTest, JsonSchema) {
  SamplingParams sampling = testing::no_sampling();
  sampling.json_schema = testing::kSchema;
  json body = body_json(encode(Request::Text("Colour?"), sampling));
  EXPECT_EQ(body["generationConfig"], json::parse(R"({"responseMimeType":"application/json",
      "responseJsonSchema":{"type":"object","properties":{"c":{"type":"string"}},
      "required":["c"],"additionalProperties":false}})"));
  sampling.json_schema = "{";
  EXPECT_THROW(encode(Request::Text("Hi"), sampling), InvalidArgument);
}

TEST_F(GeminiCodecTest, NoKeyNoKeyHeaderAndExtraHeadersLast) {
  config.api_key.clear();
  config.extra_headers = {{"x-goog-user-project", "p"}};
  http::Headers expected = {{"Content-Type", "application/json"}, {"x-goog-user-project", "p"}};
  EXPECT_EQ(encode(Request::Text("Hi")).headers, expected);
}

// ---- decode: success ------------------------------------------------------------------------

TEST_F(GeminiCodecTest, DecodesTheDocumentedExample) {
  Response response = decode(R"({"candidates":[{"content":{"role":"model",
      "parts":[{"text":"{\"c\":\"red\"}"}]},"finishReason":"STOP","index":0}],
      "usageMetadata":{"promptTokenCount":270,"candidatesTokenCount":6,"totalTokenCount":276},
      "modelVersion":"gemini-2.5-flash","responseId":"abc"})");
  EXPECT_EQ(response.text, R"({"c":"red"})");
  EXPECT_EQ(response.finish_reason, "STOP");
  EXPECT_EQ(response.model, "gemini-2.5-flash");
  EXPECT_EQ(response.usage, (Usage{270, 6, 0}));
}

TEST_F(GeminiCodecTest, SkipsThoughtsAndConcatenatesParts) {
  const std::string parts = R"([{"text":"Let me think","thought":true},{"text":"Hello, "},)"
                            R"({"functionCall":{"name":"f","args":{}}},)"
                            R"({"text":"world","thought":false}])";
  Response response = decode(candidate_with(parts, "STOP"));
  EXPECT_EQ(response.text, "Hello, world");
}

TEST_F(GeminiCodecTest, UsageWithCacheAndThoughts) {
  Response response = decode(R"({"candidates":[{"content":{"parts":[{"text":"ok"}]},
      "finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1000,
      "cachedContentTokenCount":800,"candidatesTokenCount":5,"thoughtsTokenCount":20,
      "totalTokenCount":1025}})");
  EXPECT_EQ(response.usage, (Usage{1000, 25, 800}));
  EXPECT_EQ(response.model, "");
}

TEST_F(GeminiCodecTest, HugeCountsSaturateInsteadOfOverflowing) {
  Response response = decode(R"({"candidates":[{"content":{"parts":[{"text":"ok"}]},
      "finishReason":"STOP"}],"usageMetadata":{"candidatesTokenCount":5,
      "thoughtsTokenCount":9223372036854775807}})");
  EXPECT_EQ(response.usage.output_tokens, std::numeric_limits<std::int64_t>::max());
}

TEST_F(GeminiCodecTest, UnknownFinishReasonWithTextIsAccepted) {
  Response response = decode(candidate_with(R"([{"text":"x"}])", "SOMETHING_NEW"));
  EXPECT_EQ(response.text, "x");
  EXPECT_EQ(response.finish_reason, "SOMETHING_NEW");
}

TEST_F(GeminiCodecTest, ToleratesLeadingWhitespace) {
  EXPECT_EQ(decode("\n " + candidate_with(R"([{"text":"x"}])", "STOP")).text, "x");
}

// ---- decode: answers that are errors ----------------------------------------------------------

TEST_F(GeminiCodecTest, BlockedPrompt) {
  auto e = error(200, R"({"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[
      {"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH"}]},
      "usageMetadata":{"promptTokenCount":12,"totalTokenCount":12}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kRefusal);
  EXPECT_NE(std::string(e->what()).find("SAFETY"), std::string::npos);
  EXPECT_EQ(e->billed(), (Usage{12, 0, 0}));  // the prompt was read, and billed
}

TEST_F(GeminiCodecTest, UnspecifiedBlockReasonIsNotABlock) {
  Response response = decode(R"({"promptFeedback":{"blockReason":"BLOCK_REASON_UNSPECIFIED"},
      "candidates":[{"content":{"parts":[{"text":"ok"}]},"finishReason":"STOP"}]})");
  EXPECT_EQ(response.text, "ok");
}

TEST_F(GeminiCodecTest, SafetyFinishReasonsAreRefusals) {
  for (const char* reason :
       {"SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "RECITATION", "IMAGE_SAFETY"}) {
    // A filtered candidate usually has no content at all.
    auto e = error(200, std::string(R"({"candidates":[{"finishReason":")") + reason +
                            R"(","index":0,"safetyRatings":[]}],)" +
                            R"("usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":3}})");
    ASSERT_TRUE(e) << reason;
    EXPECT_EQ(e->kind(), EngineErrorKind::kRefusal) << reason;
    EXPECT_EQ(e->billed(), (Usage{12, 3, 0})) << reason;
    EXPECT_NE(std::string(e->what()).find(reason), std::string::npos);
  }
}

TEST_F(GeminiCodecTest, MaxTokensIsTruncated) {
  auto e = error(200, candidate_with(R"([{"text":"The answer"}])", "MAX_TOKENS"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kTruncated);
  EXPECT_NE(std::string(e->what()).find("Raise max_tokens"), std::string::npos);
  EXPECT_EQ(e->billed(), (Usage{12, 4, 0}));
}

TEST_F(GeminiCodecTest, NoTextIsEmptyAnswer) {
  for (const std::string& body :
       {candidate_with("[]", "STOP"),
        candidate_with(R"([{"text":"hidden","thought":true}])", "STOP"),
        std::string(R"({"candidates":[{"finishReason":"OTHER"}]})"),
        std::string(R"({"candidates":[]})"), std::string(R"({"usageMetadata":{}})")}) {
    auto e = error(200, body);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->kind(), EngineErrorKind::kEmptyAnswer) << body;
  }
  // Thoughts are billed as output even when no answer text came.
  auto e = error(200, candidate_with(R"([{"text":"hidden","thought":true}])", "STOP"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->billed(), (Usage{12, 4, 0}));
}

TEST_F(GeminiCodecTest, WrongShapedBodiesAreMalformed) {
  for (const char* body :
       {"", R"({"candidates":[{"content":)", R"({"candidates":"x"})", "null", "<html></html>"}) {
    auto e = error(200, body);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->kind(), EngineErrorKind::kMalformed) << body;
  }
}

TEST_F(GeminiCodecTest, NonTextPartsAreIgnored) {
  auto e =
      error(200, R"({"candidates":[{"content":{"parts":[{"text":5}]},"finishReason":"STOP"}]})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kEmptyAnswer);
}

// ---- decode: HTTP errors --------------------------------------------------------------------

TEST_F(GeminiCodecTest, InvalidKeyIs400ButAuthentication) {
  auto e = error(
      400, gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                        R"([{"@type":"type.googleapis.com/google.rpc.ErrorInfo",)"
                        R"("reason":"API_KEY_INVALID","domain":"googleapis.com",)"
                        R"("metadata":{"service":"generativelanguage.googleapis.com"}}])"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kAuthentication);
  EXPECT_EQ(e->http_status(), 400);
  const std::string message = e->what();
  EXPECT_NE(message.find("GEMINI_API_KEY"), std::string::npos) << message;
  EXPECT_NE(message.find("API key not valid."), std::string::npos) << message;
  EXPECT_NE(message.find("HTTP 400"), std::string::npos) << message;
}

TEST_F(GeminiCodecTest, PermissionDeniedIsAuthentication) {
  auto e = error(403, gemini_error(403, "PERMISSION_DENIED",
                                   "Method doesn't allow unregistered "
                                   "callers"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kAuthentication);
}

TEST_F(GeminiCodecTest, TooManyTokensIsContextLength) {
  auto e = error(400, gemini_error(400, "INVALID_ARGUMENT",
                                   "The input token count (1200000) exceeds the maximum number of "
                                   "tokens allowed (1048576)."));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kContextLength);
  EXPECT_NE(std::string(e->what()).find("shorten the prompt"), std::string::npos);
}

TEST_F(GeminiCodecTest, StatusClasses) {
  struct Case {
    int status;
    const char* name;
    EngineErrorKind kind;
  };
  for (Case c : {Case{429, "RESOURCE_EXHAUSTED", EngineErrorKind::kRateLimited},
                 Case{500, "INTERNAL", EngineErrorKind::kServer},
                 Case{503, "UNAVAILABLE", EngineErrorKind::kServer},
                 Case{504, "DEADLINE_EXCEEDED", EngineErrorKind::kServer},
                 Case{404, "NOT_FOUND", EngineErrorKind::kBadRequest},
                 Case{400, "FAILED_PRECONDITION", EngineErrorKind::kBadRequest},
                 Case{400, "INVALID_ARGUMENT", EngineErrorKind::kBadRequest}}) {
    auto e = error(c.status, gemini_error(c.status, c.name, "msg for test"));
    ASSERT_TRUE(e) << c.name;
    EXPECT_EQ(e->kind(), c.kind) << c.name;
    const std::string message = e->what();
    EXPECT_NE(message.find(c.name), std::string::npos) << message;
    EXPECT_NE(message.find("msg for test"), std::string::npos) << message;
  }
}

TEST_F(GeminiCodecTest, ArrayWrappedError) {
  auto e = error(503, "[" + gemini_error(503, "UNAVAILABLE", "The model is overloaded.") + "]");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kServer);
  EXPECT_NE(std::string(e->what()).find("The model is overloaded."), std::string::npos);
}

TEST_F(GeminiCodecTest, KeyIsRedacted) {
  const std::string key = kSecretKey;
  for (const auto& [status, body] : std::vector<std::pair<int, std::string>>{
           {400, gemini_error(400, "INVALID_ARGUMENT", "API key " + key + " not valid.")},
           {200, "{\"candidates\":[" + key}}) {
    auto e = error(status, body);
    ASSERT_TRUE(e) << body;
    const std::string message = e->what();
    EXPECT_EQ(message.find("SECRETKEY"), std::string::npos) << message;
    EXPECT_NE(message.find("[redacted]"), std::string::npos) << message;
  }
}

// ---- retry_after_seconds --------------------------------------------------------------------

TEST_F(GeminiCodecTest, RetryInfoInTheBody) {
  const std::string body =
      gemini_error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.",
                   R"([{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
                      {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"57.2s"}])");
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, body)), 57.2);
  // A header would win.
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, body, {{"retry-after", "3"}})), 3);
}

TEST_F(GeminiCodecTest, RetryDelayFromTheMessageAsFallback) {
  const std::string body =
      gemini_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric. Please retry in 43.6s.");
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, body)), 43.6);
}

TEST_F(GeminiCodecTest, NoRetryDelay) {
  EXPECT_EQ(codec->retry_after_seconds(reply(503, gemini_error(503, "UNAVAILABLE", "busy"))),
            std::nullopt);
}

}  // namespace
}  // namespace tg::providers
