// Anthropic Messages codec.
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

class AnthropicCodecTest : public ::testing::Test {
 protected:
  AnthropicCodecTest() {
    config.provider = "anthropic";
    config.model = "claude-sonnet-4-5";
    config.base_url = "https://api.anthropic.com";
    config.api_key = kSecretKey;
  }

  http::HttpRequest encode(const Request& request, const SamplingParams& sampling = {}) {
    return codec->encode(request, sampling, config);
  }
  Response decode(std::string body) { return codec->decode(reply(200, std::move(body)), config); }
  std::optional<EngineError> error(int status, std::string body) {
    return decode_error(*codec, reply(status, std::move(body)), config);
  }

  std::unique_ptr<Codec> codec = make_codec("anthropic");
  ProviderConfig config;
};

std::string message_with(const std::string& content, const std::string& stop_reason,
                         const std::string& extra = "") {
  return R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
         R"("content":)" +
         content + R"(,"stop_reason":")" + stop_reason + R"(","stop_sequence":null,)" + extra +
         R"("usage":{"input_tokens":40,"output_tokens":6}})";
}

// ---- encode -------------------------------------------------------------------------------

TEST_F(AnthropicCodecTest, TextOnlyWireBytesAndHeaders) {
  http::HttpRequest request = encode(Request::Text("Hi"));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://api.anthropic.com/v1/messages");
  // The default SamplingParams set temperature and top_p; only temperature is sent.
  EXPECT_EQ(request.body, R"({"model":"claude-sonnet-4-5","max_tokens":2000,)"
                          R"("messages":[{"role":"user","content":"Hi"}],"temperature":0.0})");
  http::Headers expected = {{"Content-Type", "application/json"},
                            {"x-api-key", kSecretKey},
                            {"anthropic-version", "2023-06-01"}};
  EXPECT_EQ(request.headers, expected);
}

// The body as the codec built it before it wrote requests directly: Note [Writing requests
// directly] keeps these bytes.
std::string body_built_as_a_document(const Request& request, const SamplingParams& sampling,
                                     const ProviderConfig& config) {
  using Ordered = nlohmann::ordered_json;
  Ordered body = {{"model", config.model}, {"max_tokens", sampling.max_tokens.value_or(2000)}};
  if (!request.system_prompt.empty()) body["system"] = request.system_prompt;
  Ordered content = "";
  if (request.content.size() == 1 && !request.content.front().is_image()) {
    content = request.content.front().text;
  } else if (!request.content.empty()) {
    content = Ordered::array();
    for (const ContentPart& part : request.content) {
      if (part.is_image()) {
        content.push_back({{"type", "image"},
                           {"source",
                            {{"type", "base64"},
                             {"media_type", part.media_type},
                             {"data", base64_encode(part.data)}}}});
      } else {
        content.push_back({{"type", "text"}, {"text", part.text}});
      }
    }
  }
  const Ordered user = {{"role", "user"}, {"content", content}};
  body["messages"] = Ordered::array({user});
  if (sampling.temperature) body["temperature"] = *sampling.temperature;
  if (sampling.top_p && !sampling.temperature) body["top_p"] = *sampling.top_p;
  if (!sampling.stop.empty()) body["stop_sequences"] = sampling.stop;
  if (!sampling.json_schema.empty()) {
    body["output_config"] = {
        {"format", {{"type", "json_schema"}, {"schema", Ordered::parse(sampling.json_schema)}}}};
  }
  return body.dump();
}

TEST_F(AnthropicCodecTest, WritesTheBytesTheDocumentGave) {
  for (const Request& request : testing::encoder_requests()) {
    for (const SamplingParams& sampling : testing::encoder_samplings()) {
      EXPECT_EQ(encode(request, sampling).body, body_built_as_a_document(request, sampling, config))
          << request.user_text();
    }
  }
}

TEST_F(AnthropicCodecTest, SystemIsTopLevel) {
  json body = body_json(encode(Request::Text("Colour?", "Answer in JSON.")));
  EXPECT_EQ(body, json::parse(R"({"model":"claude-sonnet-4-5","max_tokens":2000,
      "system":"Answer in JSON.","messages":[{"role":"user","content":"Colour?"}],
      "temperature":0})"));
}

TEST_F(AnthropicCodecTest, EmptySystemIsOmitted) {
  EXPECT_FALSE(body_json(encode(Request::Text("Hi", ""))).contains("system"));
}

TEST_F(AnthropicCodecTest, ImagesAsBase64BlocksInOrder) {
  json body = body_json(encode(testing::mixed_request("Be brief.")));
  EXPECT_EQ(body["system"], "Be brief.");
  EXPECT_EQ(body["messages"], json::parse(R"([{"role":"user","content":[
      {"type":"text","text":"Compare these."},
      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
      {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4A=="}},
      {"type":"text","text":"Which?"}]}])"));
}

TEST_F(AnthropicCodecTest, EverySamplingParameter) {
  // top_p is dropped because temperature is set; seed has no Anthropic counterpart.
  json body = body_json(encode(Request::Text("Hi"), testing::all_sampling()));
  EXPECT_EQ(body, json::parse(R"({"model":"claude-sonnet-4-5","max_tokens":50,
      "messages":[{"role":"user","content":"Hi"}],"temperature":0.7,
      "stop_sequences":["\n\n","END"]})"));
}

TEST_F(AnthropicCodecTest, TopPOnlyWithoutTemperature) {
  SamplingParams sampling;
  sampling.temperature.reset();
  sampling.top_p = 0.9;
  json body = body_json(encode(Request::Text("Hi"), sampling));
  EXPECT_EQ(body["top_p"], 0.9);
  EXPECT_FALSE(body.contains("temperature"));
}

TEST_F(AnthropicCodecTest, MaxTokensIsAlwaysSent) {
  json body = body_json(encode(Request::Text("Hi"), testing::no_sampling()));
  EXPECT_EQ(body, json::parse(R"({"model":"claude-sonnet-4-5","max_tokens":2000,
      "messages":[{"role":"user","content":"Hi"}]})"));
}

TEST_F(AnthropicCodecTest, JsonSchemaAsOutputConfig) {
  SamplingParams sampling;
  sampling.json_schema = testing::kSchema;
  json body = body_json(encode(Request::Text("Colour?"), sampling));
  EXPECT_EQ(body["output_config"], json::parse(R"({"format":{"type":"json_schema","schema":{
      "type":"object","properties":{"c":{"type":"string"}},"required":["c"],
      "additionalProperties":false}}})"));
  sampling.json_schema = "nope";
  EXPECT_THROW(encode(Request::Text("Hi"), sampling), InvalidArgument);
}

TEST_F(AnthropicCodecTest, NoKeyNoKeyHeaderAndExtraHeadersLast) {
  config.api_key.clear();
  config.extra_headers = {{"anthropic-beta", "x-2025"}};
  http::Headers expected = {{"Content-Type", "application/json"},
                            {"anthropic-version", "2023-06-01"},
                            {"anthropic-beta", "x-2025"}};
  EXPECT_EQ(encode(Request::Text("Hi")).headers, expected);
}

// ---- decode: success ------------------------------------------------------------------------

TEST_F(AnthropicCodecTest, DecodesTheDocumentedExample) {
  Response response = decode(R"({"id":"msg_01","type":"message","role":"assistant",
      "model":"claude-sonnet-4-5","content":[{"type":"text","text":"{\"c\":\"red\"}"}],
      "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":40,
      "output_tokens":6,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}})");
  EXPECT_EQ(response.text, R"({"c":"red"})");
  EXPECT_EQ(response.finish_reason, "end_turn");
  EXPECT_EQ(response.model, "claude-sonnet-4-5");
  EXPECT_EQ(response.usage, (Usage{40, 6, 0}));
}

TEST_F(AnthropicCodecTest, ConcatenatesTextBlocksOnly) {
  Response response = decode(message_with(R"([
      {"type":"thinking","thinking":"hmm","signature":"s"},
      {"type":"text","text":"Hello, "},
      {"type":"tool_use","id":"t","name":"f","input":{}},
      {"type":"text","text":"world"}])",
                                          "stop_sequence"));
  EXPECT_EQ(response.text, "Hello, world");
  EXPECT_EQ(response.finish_reason, "stop_sequence");
}

TEST_F(AnthropicCodecTest, CacheTokensCountAsInput) {
  Response response = decode(R"({"type":"message","model":"m","content":[{"type":"text",
      "text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":3,
      "cache_creation_input_tokens":100,"cache_read_input_tokens":1000}})");
  EXPECT_EQ(response.usage, (Usage{1110, 3, 1000}));
}

// A hostile answer's counts near int64's limit are held there, not overflowed when summed
// (found by the anthropic_decode fuzz target under UBSan).
TEST_F(AnthropicCodecTest, HugeCountsSaturateInsteadOfOverflowing) {
  Response response = decode(R"({"type":"message","model":"m","content":[{"type":"text",
      "text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":20,"output_tokens":3,
      "cache_read_input_tokens":9223372036854775807}})");
  EXPECT_EQ(response.usage.input_tokens, std::numeric_limits<std::int64_t>::max());
}

TEST_F(AnthropicCodecTest, UnknownStopReasonWithTextIsAccepted) {
  Response response = decode(message_with(R"([{"type":"text","text":"x"}])", "brand_new"));
  EXPECT_EQ(response.text, "x");
  EXPECT_EQ(response.finish_reason, "brand_new");
}

TEST_F(AnthropicCodecTest, ToleratesLeadingWhitespace) {
  EXPECT_EQ(decode("\r\n\t " + message_with(R"([{"type":"text","text":"x"}])", "end_turn")).text,
            "x");
}

// ---- decode: answers that are errors ----------------------------------------------------------

TEST_F(AnthropicCodecTest, Refusal) {
  auto e = error(200, message_with("[]", "refusal",
                                   R"("stop_details":{"type":"refusal","category":"cyber",)"
                                   R"("explanation":"Not allowed."},)"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kRefusal);
  EXPECT_NE(std::string(e->what()).find("Not allowed."), std::string::npos);
  EXPECT_NE(std::string(e->what()).find("cyber"), std::string::npos);
  EXPECT_EQ(e->billed(), (Usage{40, 6, 0}));  // refused, but paid for
}

TEST_F(AnthropicCodecTest, RefusalWithoutDetails) {
  auto e = error(200, message_with(R"([{"type":"text","text":"I"}])", "refusal"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kRefusal);
}

TEST_F(AnthropicCodecTest, MaxTokensIsTruncated) {
  auto e = error(200, message_with(R"([{"type":"text","text":"The answer"}])", "max_tokens"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kTruncated);
  EXPECT_NE(std::string(e->what()).find("Raise max_tokens"), std::string::npos);
  EXPECT_EQ(e->billed(), (Usage{40, 6, 0}));
}

TEST_F(AnthropicCodecTest, ContextWindowExceededIsTruncated) {
  auto e = error(
      200, message_with(R"([{"type":"text","text":"The"}])", "model_context_window_exceeded"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kTruncated);
  EXPECT_NE(std::string(e->what()).find("model_context_window_exceeded"), std::string::npos);
  EXPECT_EQ(e->billed(), (Usage{40, 6, 0}));
}

TEST_F(AnthropicCodecTest, NoTextIsEmptyAnswer) {
  for (const char* content : {"[]", R"([{"type":"text","text":""}])",
                              R"([{"type":"tool_use","id":"t","name":"f","input":{}}])"}) {
    auto e = error(200, message_with(content, "end_turn"));
    ASSERT_TRUE(e) << content;
    EXPECT_EQ(e->kind(), EngineErrorKind::kEmptyAnswer) << content;
    EXPECT_EQ(e->billed(), (Usage{40, 6, 0})) << content;
  }
}

TEST_F(AnthropicCodecTest, WrongShapedBodiesAreMalformed) {
  for (const char* body : {"", R"({"type":"message","content":)", R"({"type":"message"})",
                           R"({"content":"text"})", "<html></html>", "[]"}) {
    auto e = error(200, body);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->kind(), EngineErrorKind::kMalformed) << body;
  }
}

// ---- decode: HTTP errors --------------------------------------------------------------------

std::string anthropic_error(const std::string& type, const std::string& message) {
  return R"({"type":"error","error":{"type":")" + type + R"(","message":")" + message +
         R"("},"request_id":"req_01"})";
}

TEST_F(AnthropicCodecTest, OverloadedIsServer) {
  auto e = error(529, anthropic_error("overloaded_error", "Overloaded"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kServer);
  EXPECT_TRUE(e->transient());
  EXPECT_EQ(e->http_status(), 529);
  const std::string message = e->what();
  EXPECT_NE(message.find("HTTP 529"), std::string::npos) << message;
  EXPECT_NE(message.find("\"Overloaded\""), std::string::npos) << message;
  EXPECT_NE(message.find("overloaded_error"), std::string::npos) << message;
}

TEST_F(AnthropicCodecTest, StatusClasses) {
  struct Case {
    int status;
    const char* type;
    EngineErrorKind kind;
  };
  for (Case c : {Case{429, "rate_limit_error", EngineErrorKind::kRateLimited},
                 Case{500, "api_error", EngineErrorKind::kServer},
                 Case{504, "timeout_error", EngineErrorKind::kServer},
                 Case{408, "timeout_error", EngineErrorKind::kTimeout},
                 Case{409, "api_error", EngineErrorKind::kServer},
                 Case{404, "not_found_error", EngineErrorKind::kBadRequest},
                 Case{413, "request_too_large", EngineErrorKind::kBadRequest},
                 Case{402, "billing_error", EngineErrorKind::kBadRequest},
                 Case{400, "invalid_request_error", EngineErrorKind::kBadRequest}}) {
    auto e = error(c.status, anthropic_error(c.type, "something"));
    ASSERT_TRUE(e) << c.status;
    EXPECT_EQ(e->kind(), c.kind) << c.status;
  }
}

TEST_F(AnthropicCodecTest, AuthenticationNamesTheVariable) {
  for (int status : {401, 403}) {
    auto e =
        error(status, anthropic_error(status == 401 ? "authentication_error" : "permission_error",
                                      "invalid x-api-key"));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), EngineErrorKind::kAuthentication);
    const std::string message = e->what();
    EXPECT_NE(message.find("ANTHROPIC_API_KEY"), std::string::npos) << message;
    EXPECT_NE(message.find("invalid x-api-key"), std::string::npos) << message;
  }
}

TEST_F(AnthropicCodecTest, PromptTooLongIsContextLength) {
  auto e = error(400, anthropic_error("invalid_request_error",
                                      "prompt is too long: 208656 tokens > 200000 maximum"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kContextLength);
  const std::string message = e->what();
  EXPECT_NE(message.find("208656 tokens > 200000 maximum"), std::string::npos) << message;
  EXPECT_NE(message.find("shorten the prompt"), std::string::npos) << message;
}

TEST_F(AnthropicCodecTest, ErrorInsideA200) {
  auto e = error(200, anthropic_error("overloaded_error", "Overloaded"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kServer);
  EXPECT_EQ(e->http_status(), 529);
}

TEST_F(AnthropicCodecTest, KeyIsRedacted) {
  const std::string key = kSecretKey;
  for (const auto& [status, body] : std::vector<std::pair<int, std::string>>{
           {401, anthropic_error("authentication_error", "bad key " + key)},
           {200, "{\"content\": \"" + key},
           {200, message_with("[]", "refusal",
                              R"("stop_details":{"explanation":")" + key + R"("},)")}}) {
    auto e = error(status, body);
    ASSERT_TRUE(e) << body;
    const std::string message = e->what();
    EXPECT_EQ(message.find("SECRETKEY"), std::string::npos) << message;
    EXPECT_NE(message.find("[redacted]"), std::string::npos) << message;
  }
}

// ---- retry_after_seconds --------------------------------------------------------------------

TEST_F(AnthropicCodecTest, RetryAfter) {
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, "", {{"retry-after", "17"}})), 17);
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(529, "", {{"retry-after-ms", "800"}})), 0.8);
  EXPECT_EQ(codec->retry_after_seconds(reply(529, anthropic_error("overloaded_error", "x"))),
            std::nullopt);
}

}  // namespace
}  // namespace tg::providers
