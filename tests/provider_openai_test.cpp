// OpenAI Chat Completions codec (also Azure and the compatible servers).
#include <gtest/gtest.h>

#include <ctime>

#include "engine/providers/codec.h"
#include "engine/providers/codec_common.h"
#include "provider_codec_test_util.h"
#include "support/openai_answer_reference.h"

namespace tg::providers {
namespace {

using nlohmann::json;
using testing::body_json;
using testing::decode_error;
using testing::kSecretKey;
using testing::reply;

class OpenAiCodecTest : public ::testing::Test {
 protected:
  OpenAiCodecTest() {
    config.provider = "openai";
    config.model = "gpt-4o-mini";
    config.base_url = "https://api.openai.com/v1";
    config.api_key = kSecretKey;
  }

  http::HttpRequest encode(const Request& request, const SamplingParams& sampling = {}) {
    return codec->encode(request, sampling, config);
  }
  Response decode(int status, std::string body) {
    return codec->decode(reply(status, std::move(body)), config);
  }
  std::optional<EngineError> error(int status, std::string body, http::Headers headers = {}) {
    return decode_error(*codec, reply(status, std::move(body), std::move(headers)), config);
  }

  std::unique_ptr<Codec> codec = make_codec("openai");
  ProviderConfig config;
};

// A documented-shape success body with the given message and finish reason.
std::string completion(const std::string& message, const std::string& finish_reason) {
  return R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,)"
         R"("model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":)" +
         message + R"(,"finish_reason":")" + finish_reason +
         R"(","logprobs":null}],"usage":{"prompt_tokens":30,"completion_tokens":5,)"
         R"("total_tokens":35}})";
}

// ---- encode -------------------------------------------------------------------------------

TEST_F(OpenAiCodecTest, TextOnlyWireBytes) {
  http::HttpRequest request = encode(Request::Text("Hi"));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://api.openai.com/v1/chat/completions");
  EXPECT_EQ(request.body, R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],)"
                          R"("temperature":0.0,"top_p":0.99,"max_completion_tokens":2000})");
  http::Headers expected = {{"Content-Type", "application/json"},
                            {"Authorization", std::string("Bearer ") + kSecretKey}};
  EXPECT_EQ(request.headers, expected);
}

// The body as the codec built it before it wrote requests directly (an ordered_json, dumped
// by nlohmann): Note [Writing requests directly] keeps these bytes.
std::string body_built_as_a_document(const Request& request, const SamplingParams& sampling,
                                     const ProviderConfig& config) {
  using Ordered = nlohmann::ordered_json;
  Ordered messages = Ordered::array();
  if (!request.system_prompt.empty()) {
    messages.push_back({{"role", "system"}, {"content", request.system_prompt}});
  }
  Ordered content = "";
  if (request.content.size() == 1 && !request.content.front().is_image()) {
    content = request.content.front().text;
  } else if (!request.content.empty()) {
    content = Ordered::array();
    for (const ContentPart& part : request.content) {
      if (part.is_image()) {
        content.push_back({{"type", "image_url"},
                           {"image_url", {{"url", data_url(part.media_type, part.data)}}}});
      } else {
        content.push_back({{"type", "text"}, {"text", part.text}});
      }
    }
  }
  messages.push_back({{"role", "user"}, {"content", content}});
  Ordered body = {{"model", config.model}, {"messages", messages}};
  if (sampling.temperature) body["temperature"] = *sampling.temperature;
  if (sampling.top_p) body["top_p"] = *sampling.top_p;
  if (sampling.seed) body["seed"] = *sampling.seed;
  if (!sampling.stop.empty()) body["stop"] = sampling.stop;
  if (sampling.max_tokens) {
    body[config.use_max_completion_tokens ? "max_completion_tokens" : "max_tokens"] =
        *sampling.max_tokens;
  }
  if (!sampling.json_schema.empty()) {
    body["response_format"] = {{"type", "json_schema"},
                               {"json_schema",
                                {{"name", schema_name(sampling.json_schema_name)},
                                 {"schema", Ordered::parse(sampling.json_schema)},
                                 {"strict", true}}}};
  }
  return body.dump();
}

TEST_F(OpenAiCodecTest, WritesTheBytesTheDocumentGave) {
  for (bool completion_tokens : {true, false}) {
    config.use_max_completion_tokens = completion_tokens;
    for (const Request& request : testing::encoder_requests()) {
      for (const SamplingParams& sampling : testing::encoder_samplings()) {
        EXPECT_EQ(encode(request, sampling).body,
                  body_built_as_a_document(request, sampling, config))
            << request.user_text();
      }
    }
  }
}

TEST_F(OpenAiCodecTest, TextThatIsNotUtf8FailsAsTheDocumentDid) {
  const Request request = Request::Text("ok \xC3\x28 broken", "fine");
  std::string expected;
  try {
    body_built_as_a_document(request, {}, config);
  } catch (const nlohmann::json::exception& e) {
    expected = e.what();
  }
  ASSERT_FALSE(expected.empty());
  try {
    encode(request);
    FAIL() << "encoded text that is not UTF-8";
  } catch (const nlohmann::json::exception& e) {
    EXPECT_EQ(e.what(), expected);
  }
}

TEST_F(OpenAiCodecTest, SystemPromptBecomesSystemMessage) {
  http::HttpRequest request = encode(Request::Text("Colour?", "Answer in JSON."));
  EXPECT_EQ(body_json(request), json::parse(R"({"model":"gpt-4o-mini","messages":[
      {"role":"system","content":"Answer in JSON."},{"role":"user","content":"Colour?"}],
      "temperature":0,"top_p":0.99,"max_completion_tokens":2000})"));
}

TEST_F(OpenAiCodecTest, ImagesAsDataUrlPartsInOrder) {
  http::HttpRequest request = encode(testing::mixed_request("Be brief."));
  EXPECT_EQ(body_json(request)["messages"], json::parse(R"([
      {"role":"system","content":"Be brief."},
      {"role":"user","content":[
        {"type":"text","text":"Compare these."},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
        {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4A=="}},
        {"type":"text","text":"Which?"}]}])"));
}

TEST_F(OpenAiCodecTest, SeveralTextPartsUseTheArrayForm) {
  Request request;
  request.content = {ContentPart::Text("a"), ContentPart::Text("b")};
  EXPECT_EQ(body_json(encode(request))["messages"][0]["content"],
            json::parse(R"([{"type":"text","text":"a"},{"type":"text","text":"b"}])"));
}

TEST_F(OpenAiCodecTest, EverySamplingParameter) {
  http::HttpRequest request = encode(Request::Text("Hi"), testing::all_sampling());
  EXPECT_EQ(body_json(request), json::parse(R"({"model":"gpt-4o-mini",
      "messages":[{"role":"user","content":"Hi"}],
      "temperature":0.7,"top_p":0.5,"seed":7,"stop":["\n\n","END"],
      "max_completion_tokens":50})"));
}

TEST_F(OpenAiCodecTest, UnsetSamplingParametersAreNotSent) {
  http::HttpRequest request = encode(Request::Text("Hi"), testing::no_sampling());
  EXPECT_EQ(body_json(request),
            json::parse(R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]})"));
}

TEST_F(OpenAiCodecTest, MaxTokensForServersThatOnlyReadIt) {
  config.use_max_completion_tokens = false;
  json body = body_json(encode(Request::Text("Hi")));
  EXPECT_EQ(body["max_tokens"], 2000);
  EXPECT_FALSE(body.contains("max_completion_tokens"));
}

TEST_F(OpenAiCodecTest, JsonSchemaAsStrictResponseFormat) {
  SamplingParams sampling;
  sampling.json_schema = testing::kSchema;
  sampling.json_schema_name = "c";
  json body = body_json(encode(Request::Text("Colour?"), sampling));
  EXPECT_EQ(body["response_format"], json::parse(R"({"type":"json_schema","json_schema":{
      "name":"c","schema":{"type":"object","properties":{"c":{"type":"string"}},
      "required":["c"],"additionalProperties":false},"strict":true}})"));
}

TEST_F(OpenAiCodecTest, InvalidSchemaIsAnInvalidArgument) {
  SamplingParams sampling;
  sampling.json_schema = "{not json";
  EXPECT_THROW(encode(Request::Text("Hi"), sampling), InvalidArgument);
  sampling.json_schema = "[1,2]";
  EXPECT_THROW(encode(Request::Text("Hi"), sampling), InvalidArgument);
}

TEST_F(OpenAiCodecTest, NoKeyNoAuthorizationHeader) {
  config.base_url = "http://localhost:8000/v1";
  config.api_key.clear();
  http::HttpRequest request = encode(Request::Text("Hi"));
  EXPECT_EQ(request.url, "http://localhost:8000/v1/chat/completions");
  EXPECT_EQ(request.headers, (http::Headers{{"Content-Type", "application/json"}}));
}

TEST_F(OpenAiCodecTest, ExtraHeadersComeLast) {
  config.extra_headers = {{"HTTP-Referer", "https://example.org"}, {"X-Title", "tg"}};
  http::HttpRequest request = encode(Request::Text("Hi"));
  http::Headers expected = {{"Content-Type", "application/json"},
                            {"Authorization", std::string("Bearer ") + kSecretKey},
                            {"HTTP-Referer", "https://example.org"},
                            {"X-Title", "tg"}};
  EXPECT_EQ(request.headers, expected);
}

TEST(AzureCodecTest, DeploymentUrlAndApiKeyHeader) {
  ProviderConfig config;
  config.provider = "azure";
  config.model = "my-gpt4o";
  config.base_url = "https://res.openai.azure.com";
  config.api_key = kSecretKey;
  config.azure_api_version = "2024-06-01";
  http::HttpRequest request = make_codec("azure")->encode(Request::Text("Hi"), {}, config);
  EXPECT_EQ(request.url,
            "https://res.openai.azure.com/openai/deployments/my-gpt4o/chat/completions"
            "?api-version=2024-06-01");
  http::Headers expected = {{"Content-Type", "application/json"}, {"api-key", kSecretKey}};
  EXPECT_EQ(request.headers, expected);
  EXPECT_EQ(body_json(request)["messages"], json::parse(R"([{"role":"user","content":"Hi"}])"));
}

TEST(AzureCodecTest, DefaultApiVersion) {
  ProviderConfig config;
  config.model = "dep";
  config.base_url = "https://res.openai.azure.com";
  http::HttpRequest request = make_codec("azure")->encode(Request::Text("Hi"), {}, config);
  EXPECT_EQ(request.url,
            "https://res.openai.azure.com/openai/deployments/dep/chat/completions"
            "?api-version=2024-10-21");
}

// ---- decode: success ------------------------------------------------------------------------

// Bodies whose reading has a rule to get right: absent, null and wrongly typed members,
// members given twice, content parts, decoys nested where decode does not look.
std::vector<std::string> answer_bodies() {
  const std::string usage = R"("usage":{"prompt_tokens":30,"completion_tokens":5})";
  std::vector<std::string> bodies = {
      completion(R"({"role":"assistant","content":"Blue."})", "stop"),
      completion(R"({"content":null,"refusal":"No."})", "stop"),
      completion(
          R"({"content":[{"type":"text","text":"a"},7,{"text":5},{"text":"b","text":"c"},[{"text":"x"}],{}]})",
          "length"),
      completion(R"({"content":{"text":"no"}})", "stop"),
      completion(R"({"content":true})", "stop"),
      completion(R"({"content":3.5})", "stop"),
      completion(R"({"content":"first","content":null})", "stop"),
      completion(R"({"content":"a \u00e9 \ud83d\ude00 \n"})", "content_filter"),
      completion(R"("not an object")", "stop"),
      R"({"choices":[],)" + usage + "}",
      R"({"choices":{},)" + usage + "}",
      R"({"choices":[1,{"message":{"content":"second"}}]})",
      R"({"choices":[[{"message":{"content":"nested"}}]]})",
      R"({"choices":[{"message":{"content":"a"},"finish_reason":7}]})",
      R"({"choices":[{"message":{"content":"a"}}],"choices":"gone"})",
      R"({"choices":[{"message":{"content":"a"},"message":{"content":"b"}}]})",
      R"({"choices":[{"message":{"content":"a"},"message":"b"}]})",
      R"({"choices":[{"finish_reason":"stop","finish_reason":null,"message":{"content":"a"}}]})",
      R"({"error":{"message":"Upstream failed","code":502}})",
      R"({"error":null,"choices":[{"message":{"content":"a"}}]})",
      R"({"model":"m1","model":7,"choices":[{"message":{"content":"a"}}]})",
      R"({"x":{"choices":[{"message":{"content":"decoy"}}],"model":"decoy","usage":{"prompt_tokens":9}}})",
      R"({"usage":{"prompt_tokens":1.9,"completion_tokens":-4,"prompt_tokens_details":{"cached_tokens":18446744073709551615}}})",
      R"({"usage":{"prompt_tokens":"7","completion_tokens":true,"prompt_tokens_details":null,"prompt_cache_hit_tokens":6}})",
      R"({"usage":{"prompt_tokens_details":{"cached_tokens":0},"prompt_cache_hit_tokens":6}})",
      R"({"usage":{"prompt_tokens":3},"usage":{"completion_tokens":4}})",
      R"({"usage":{"prompt_tokens_details":{"cached_tokens":2},"prompt_tokens_details":{}}})",
      R"({"usage":[{"prompt_tokens":3}]})",
      R"({"created":8.8e81,"usage":{"prompt_tokens":1e300,"completion_tokens":-1e300,)"
      R"("prompt_cache_hit_tokens":-0.5,"prompt_tokens_details":{"cached_tokens":9.3e18}}})",
      "  \n{\"choices\":[{\"message\":{\"content\":\"spaced\"}}]}  \n",
      "{}",
      "[]",
      "[{\"choices\":[]}]",
      "\"text\"",
      "42",
      "null",
      "{\"choices\":[{\"message\":{\"content\":\"a\"}}]} trailing",
      "{\"a\":1,}",
      "{\"a\" 1}",
      "{/* comment */}",
      "{\"a\":\"\xFF\"}",
      "{\"a\":\"\\ud800\"}",
      "{\"a\":1e999}"};
  return bodies;
}

// The reader against the document it replaced, on each body, every prefix of it and each of its
// bytes replaced by a character that matters to JSON.
TEST(OpenAiAnswerTest, ReadsWhatTheDocumentRead) {
  const auto same = [](const std::string& body) {
    std::string expected_error;
    OpenAiAnswer expected;
    try {
      expected = testing::read_as_a_document(body);
    } catch (const nlohmann::json::exception& e) {
      expected_error = e.what();
    }
    try {
      const OpenAiAnswer answer = read_openai_answer(body);
      return expected_error.empty() && answer == expected;
    } catch (const nlohmann::json::exception& e) {
      return e.what() == expected_error;
    }
  };
  int bodies = 0;
  for (const std::string& body : answer_bodies()) {
    ASSERT_TRUE(same(body)) << body;
    for (size_t cut = 0; cut < body.size(); ++cut) {
      ASSERT_TRUE(same(body.substr(0, cut))) << body.substr(0, cut);
    }
    for (size_t at = 0; at < body.size(); ++at) {
      for (char c : std::string("{}[]:,\"0n")) {
        std::string mutated = body;
        mutated[at] = c;
        ASSERT_TRUE(same(mutated)) << mutated;
        ++bodies;
      }
    }
  }
  EXPECT_GT(bodies, 10000);
}

// The fast path (Note [Lexing answers with simdjson]) takes every valid answer and refuses
// every body nlohmann refuses; where it reads, it reads what the document read.
TEST(OpenAiAnswerTest, SimdjsonReadsEveryValidAnswer) {
  const auto check = [](const std::string& body, bool must_read) {
    std::optional<OpenAiAnswer> expected;
    try {
      expected = testing::read_as_a_document(body);
    } catch (const nlohmann::json::exception&) {
    }
    const std::optional<OpenAiAnswer> quick = read_openai_answer_quickly(body);
    if (!expected) return !quick.has_value();
    if (!quick) return !must_read;
    return *quick == *expected;
  };
  int read = 0;
  for (const std::string& body : answer_bodies()) {
    ASSERT_TRUE(check(body, true)) << body;
    read += read_openai_answer_quickly(body).has_value() ? 1 : 0;
    for (size_t at = 0; at < body.size(); ++at) {
      for (char c : std::string("{}[]:,\"0n")) {
        std::string mutated = body;
        mutated[at] = c;
        ASSERT_TRUE(check(mutated, false)) << mutated;
      }
    }
  }
  EXPECT_GT(read, 30);
}

// An answer over a megabyte takes the fast path with a parser of its own.
TEST(OpenAiAnswerTest, ReadsAnAnswerOverAMegabyte) {
  const std::string text(1200000, 'y');
  const std::string body = completion(R"({"content":")" + text + R"("})", "length");
  const std::optional<OpenAiAnswer> quick = read_openai_answer_quickly(body);
  ASSERT_TRUE(quick.has_value());
  EXPECT_EQ(quick->text, text);
  EXPECT_EQ(*quick, testing::read_as_a_document(body));
  EXPECT_EQ(read_openai_answer(R"({"choices":[{"message":{"content":"small"}}]})").text, "small");
}

TEST(OpenAiAnswerTest, KeepsWhatDecodeReads) {
  const OpenAiAnswer answer = read_openai_answer(
      R"({"id":"x","model":"gpt","choices":[{"index":0,"finish_reason":"stop","message":)"
      R"({"role":"assistant","content":[{"text":"a"},{"text":"b"}]}}],"usage":)"
      R"({"prompt_tokens":3,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}})");
  EXPECT_TRUE(answer.is_object && answer.has_choices && answer.has_first_choice &&
              answer.message_is_object && !answer.has_error);
  EXPECT_EQ(answer.content, OpenAiAnswer::Content::kParts);
  EXPECT_EQ(answer.text, "ab");
  EXPECT_EQ(answer.model, "gpt");
  EXPECT_EQ(answer.finish_reason, "stop");
  EXPECT_EQ(answer.usage, (Usage{3, 2, 1}));
}

TEST_F(OpenAiCodecTest, DecodesTheDocumentedExample) {
  Response response = decode(200, R"({"id":"chatcmpl-1","object":"chat.completion",
      "created":1700000000,"model":"gpt-4o-mini",
      "choices":[{"index":0,"message":{"role":"assistant","content":"{\"c\":\"red\"}",
        "refusal":null},"finish_reason":"stop","logprobs":null}],
      "usage":{"prompt_tokens":30,"completion_tokens":5,"total_tokens":35,
        "prompt_tokens_details":{"cached_tokens":12},
        "completion_tokens_details":{"reasoning_tokens":0}}})");
  EXPECT_EQ(response.text, R"({"c":"red"})");
  EXPECT_EQ(response.finish_reason, "stop");
  EXPECT_EQ(response.model, "gpt-4o-mini");
  EXPECT_EQ(response.usage, (Usage{30, 5, 12}));
}

TEST_F(OpenAiCodecTest, ToleratesLeadingWhitespaceAndMissingUsage) {
  // DeepSeek sends blank lines while a request waits.
  Response response = decode(200, "\n\n  \n" + std::string(R"({"choices":[{"message":
      {"role":"assistant","content":"ok"},"finish_reason":"stop"}]})"));
  EXPECT_EQ(response.text, "ok");
  EXPECT_EQ(response.usage, Usage{});
  EXPECT_EQ(response.model, "");
}

TEST_F(OpenAiCodecTest, NullDetailsAndDeepSeekCacheHits) {
  Response response = decode(200, R"({"model":"deepseek-chat","choices":[{"message":
      {"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,
      "completion_tokens":3,"prompt_tokens_details":null,"prompt_cache_hit_tokens":64}})");
  EXPECT_EQ(response.usage, (Usage{100, 3, 64}));
}

TEST_F(OpenAiCodecTest, UnknownFinishReasonsAreAccepted) {
  for (const char* reason : {"tool_calls", "insufficient_system_resource", "brand_new"}) {
    Response response = decode(200, completion(R"({"role":"assistant","content":"x"})", reason));
    EXPECT_EQ(response.text, "x");
    EXPECT_EQ(response.finish_reason, reason);
  }
  Response null_reason = decode(200, R"({"choices":[{"message":{"content":"x"},
      "finish_reason":null}]})");
  EXPECT_EQ(null_reason.finish_reason, "");
}

TEST_F(OpenAiCodecTest, ContentAsPartsArray) {
  Response response = decode(200, completion(R"({"role":"assistant","content":[
      {"type":"text","text":"Hello, "},{"type":"text","text":"world"}]})",
                                             "stop"));
  EXPECT_EQ(response.text, "Hello, world");
}

// ---- decode: answers that are errors ----------------------------------------------------------

TEST_F(OpenAiCodecTest, RefusalField) {
  auto e = error(200, completion(R"({"role":"assistant","content":null,
      "refusal":"I can't help with that."})",
                                 "stop"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kRefusal);
  EXPECT_NE(std::string(e->what()).find("I can't help with that."), std::string::npos);
  EXPECT_FALSE(e->transient());
  EXPECT_EQ(e->billed(), (Usage{30, 5, 0}));  // refused, but paid for
}

TEST_F(OpenAiCodecTest, ContentFilterFinishReason) {
  auto e = error(200, completion(R"({"role":"assistant","content":"partial"})", "content_filter"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kRefusal);
  EXPECT_NE(std::string(e->what()).find("content_filter"), std::string::npos);
  EXPECT_EQ(e->billed(), (Usage{30, 5, 0}));
}

TEST_F(OpenAiCodecTest, LengthIsTruncated) {
  auto e = error(200, completion(R"({"role":"assistant","content":"The answer is"})", "length"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kTruncated);
  EXPECT_NE(std::string(e->what()).find("max_tokens"), std::string::npos);
  EXPECT_EQ(e->http_status(), 200);
  EXPECT_EQ(e->billed(), (Usage{30, 5, 0}));
}

TEST_F(OpenAiCodecTest, NullOrEmptyContentIsEmptyAnswer) {
  for (const char* message :
       {R"({"role":"assistant","content":null})", R"({"role":"assistant","content":""})",
        R"({"role":"assistant","content":" \n "})", R"({"role":"assistant"})",
        R"({"role":"assistant","content":[]})"}) {
    auto e = error(200, completion(message, "stop"));
    ASSERT_TRUE(e) << message;
    EXPECT_EQ(e->kind(), EngineErrorKind::kEmptyAnswer) << message;
    EXPECT_EQ(e->billed(), (Usage{30, 5, 0})) << message;
  }
}

TEST_F(OpenAiCodecTest, WrongShapedBodiesAreMalformed) {
  for (const char* body : {"", "  \n", "<html><body>Bad Gateway</body></html>",
                           R"({"choices":[{"message":)", R"({"foo":1})", R"({"choices":[]})",
                           R"({"choices":"none"})", R"({"choices":[{"message":"hi"}]})",
                           R"({"choices":[{"message":{"content":42}}]})", "[1,2]", "\"text\""}) {
    auto e = error(200, body);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->kind(), EngineErrorKind::kMalformed) << body;
  }
}

TEST_F(OpenAiCodecTest, MalformedQuotesTheStartOfTheBody) {
  const std::string body =
      "\n  " + std::string(R"({"choices":[{"message":{"content":"abc)") + std::string(400, 'z');
  auto e = error(200, body);
  ASSERT_TRUE(e);
  const std::string message = e->what();
  EXPECT_NE(message.find(R"({"choices":[{"message":{"content":"abc)"), std::string::npos);
  EXPECT_NE(message.find("HTTP 200"), std::string::npos);
  EXPECT_EQ(message.find(std::string(250, 'z')), std::string::npos) << "not cut to ~200 chars";
}

// ---- decode: HTTP errors --------------------------------------------------------------------

TEST_F(OpenAiCodecTest, RateLimited) {
  auto e = error(429, R"({"error":{"message":"Rate limit reached for gpt-4o-mini on tokens per )"
                      R"(min. Please try again in 1.2s.","type":"tokens","param":null,)"
                      R"("code":"rate_limit_exceeded"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kRateLimited);
  EXPECT_EQ(e->http_status(), 429);
  EXPECT_TRUE(e->transient());
  const std::string message = e->what();
  EXPECT_NE(message.find("HTTP 429"), std::string::npos) << message;
  EXPECT_NE(message.find("Rate limit reached for gpt-4o-mini"), std::string::npos) << message;
  EXPECT_NE(message.find("rate_limit_exceeded"), std::string::npos) << message;
}

TEST_F(OpenAiCodecTest, InsufficientQuotaSaysSo) {
  auto e = error(429, R"({"error":{"message":"You exceeded your current quota.",
      "type":"insufficient_quota","param":null,"code":"insufficient_quota"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kRateLimited);
  EXPECT_NE(std::string(e->what()).find("billing"), std::string::npos);
}

TEST_F(OpenAiCodecTest, TransientStatuses) {
  const std::string body = R"({"error":{"message":"boom","type":"server_error","code":null}})";
  struct Case {
    int status;
    EngineErrorKind kind;
  };
  for (Case c : {Case{408, EngineErrorKind::kTimeout}, Case{409, EngineErrorKind::kServer},
                 Case{500, EngineErrorKind::kServer}, Case{502, EngineErrorKind::kServer},
                 Case{503, EngineErrorKind::kServer}, Case{504, EngineErrorKind::kServer}}) {
    auto e = error(c.status, body);
    ASSERT_TRUE(e) << c.status;
    EXPECT_EQ(e->kind(), c.kind) << c.status;
    EXPECT_EQ(e->http_status(), c.status);
    EXPECT_TRUE(e->transient()) << c.status;
    EXPECT_NE(std::string(e->what()).find("\"boom\""), std::string::npos);
  }
}

TEST_F(OpenAiCodecTest, LlamaServerLoading) {
  auto e =
      error(503, R"({"error":{"code":503,"message":"Loading model","type":"unavailable_error"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kServer);
  EXPECT_NE(std::string(e->what()).find("Loading model"), std::string::npos);
}

TEST_F(OpenAiCodecTest, NonJsonErrorBodyIsQuoted) {
  auto e = error(502, "<html><head><title>502 Bad Gateway</title></head></html>");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kServer);
  EXPECT_NE(std::string(e->what()).find("502 Bad Gateway"), std::string::npos);
  auto empty = error(500, "");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->kind(), EngineErrorKind::kServer);
  EXPECT_NE(std::string(empty->what()).find("HTTP 500"), std::string::npos);
}

TEST_F(OpenAiCodecTest, AuthenticationNamesTheVariableNotTheKey) {
  for (int status : {401, 403}) {
    auto e = error(status, R"({"error":{"message":"Incorrect API key provided.",
        "type":"invalid_request_error","param":null,"code":"invalid_api_key"}})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), EngineErrorKind::kAuthentication);
    EXPECT_FALSE(e->transient());
    const std::string message = e->what();
    EXPECT_NE(message.find("OPENAI_API_KEY"), std::string::npos) << message;
    EXPECT_NE(message.find("Incorrect API key provided."), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(status)), std::string::npos) << message;
    EXPECT_EQ(message.find(kSecretKey), std::string::npos) << message;
  }
}

TEST_F(OpenAiCodecTest, AuthenticationWithoutKeySaysNoneWasSet) {
  config.api_key.clear();
  auto e = error(401, R"({"error":{"message":"Missing bearer authentication."}})");
  ASSERT_TRUE(e);
  EXPECT_NE(std::string(e->what()).find("No API key was configured"), std::string::npos);
}

TEST_F(OpenAiCodecTest, ContextLengthExceeded) {
  auto e = error(400, R"({"error":{"message":"This model's maximum context length is 128000 )"
                      R"(tokens. However, your messages resulted in 130000 tokens.",)"
                      R"("type":"invalid_request_error","param":"messages",)"
                      R"("code":"context_length_exceeded"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kContextLength);
  EXPECT_FALSE(e->transient());
  const std::string message = e->what();
  EXPECT_NE(message.find("shorten the prompt"), std::string::npos) << message;
  EXPECT_NE(message.find("maximum context length is 128000"), std::string::npos) << message;
}

TEST_F(OpenAiCodecTest, ContextLengthFromLlamaServerAndVllm) {
  auto llama = error(400, R"({"error":{"code":400,"message":"the request exceeds the available )"
                          R"(context size, try increasing it","type":"exceed_context_size_error",)"
                          R"("n_prompt_tokens":5000,"n_ctx":4096}})");
  ASSERT_TRUE(llama);
  EXPECT_EQ(llama->kind(), EngineErrorKind::kContextLength);
  auto vllm = error(400, R"({"object":"error","message":"This model's maximum context length )"
                         R"(is 4096 tokens. However, you requested 5000 tokens.",)"
                         R"("type":"BadRequestError","param":null,"code":400})");
  ASSERT_TRUE(vllm);
  EXPECT_EQ(vllm->kind(), EngineErrorKind::kContextLength);
}

TEST_F(OpenAiCodecTest, OtherClientErrorsAreBadRequests) {
  auto bad = error(400, R"({"error":{"message":"Invalid value for 'temperature'.",
      "type":"invalid_request_error","param":"temperature","code":"invalid_value"}})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind(), EngineErrorKind::kBadRequest);
  EXPECT_NE(std::string(bad->what()).find("Invalid value for 'temperature'."), std::string::npos);
  auto unprocessable = error(422, R"({"error":{"message":"bad params"}})");
  ASSERT_TRUE(unprocessable);
  EXPECT_EQ(unprocessable->kind(), EngineErrorKind::kBadRequest);
  auto no_code = error(400, R"({"error":{"message":"no code at all"}})");
  ASSERT_TRUE(no_code);
  EXPECT_EQ(no_code->kind(), EngineErrorKind::kBadRequest);
}

TEST_F(OpenAiCodecTest, NotFoundNamesTheModel) {
  auto e = error(404, R"({"error":{"message":"The model `gpt-9` does not exist",
      "type":"invalid_request_error","param":null,"code":"model_not_found"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kBadRequest);
  EXPECT_NE(std::string(e->what()).find("model name \"gpt-4o-mini\""), std::string::npos);
}

// A redirect means a wrong base URL (http for https, a web page), not a wrong model name.
TEST_F(OpenAiCodecTest, RedirectPointsAtTheBaseUrl) {
  for (int status : {301, 302, 307, 308}) {
    auto e = error(status, "", {{"location", "https://api.example.com/v1/chat/completions?k=1"}});
    ASSERT_TRUE(e) << status;
    const std::string message = e->what();
    EXPECT_NE(message.find("redirect to https://api.example.com/v1/chat/completions"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("?k=1"), std::string::npos) << message;
    EXPECT_NE(message.find("base URL"), std::string::npos) << message;
    EXPECT_EQ(message.find("model name"), std::string::npos) << message;
    EXPECT_FALSE(e->transient());
  }
}

TEST_F(OpenAiCodecTest, OpenRouterErrorInsideA200) {
  auto e = error(200, R"({"error":{"code":502,"message":"Upstream provider failed"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kServer);
  EXPECT_EQ(e->http_status(), 502);
  EXPECT_NE(std::string(e->what()).find("Upstream provider failed"), std::string::npos);
}

TEST_F(OpenAiCodecTest, TransportFailureIsConnection) {
  auto e = error(0, "");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), EngineErrorKind::kConnection);
}

TEST(AzureCodecTest, NotFoundWithStringCodeAndContentFilter) {
  ProviderConfig config;
  config.model = "dep";
  std::unique_ptr<Codec> codec = make_codec("azure");
  auto missing = decode_error(
      *codec, reply(404, R"({"error":{"code":"404","message":"Resource not found"}})"), config);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->kind(), EngineErrorKind::kBadRequest);
  EXPECT_NE(std::string(missing->what()).find("Resource not found"), std::string::npos);

  const std::string filtered_body =
      R"({"error":{"message":"The response was filtered due to the prompt triggering Azure )"
      R"(OpenAI's content management policy.","type":null,"param":"prompt",)"
      R"("code":"content_filter","status":400,"innererror":{)"
      R"("code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{)"
      R"("filtered":true,"severity":"high"}}}}})";
  auto filtered = decode_error(*codec, reply(400, filtered_body), config);
  ASSERT_TRUE(filtered);
  EXPECT_EQ(filtered->kind(), EngineErrorKind::kRefusal);

  auto auth = decode_error(
      *codec,
      reply(401, R"({"error":{"code":"401","message":"Access denied due to invalid key."}})"),
      config);
  ASSERT_TRUE(auth);
  EXPECT_NE(std::string(auth->what()).find("AZURE_OPENAI_API_KEY"), std::string::npos);
}

// ---- key redaction --------------------------------------------------------------------------

TEST_F(OpenAiCodecTest, KeyEchoedByTheServerIsRedacted) {
  const std::string key = kSecretKey;
  std::vector<std::pair<int, std::string>> cases = {
      {401, R"({"error":{"message":"Incorrect API key provided: )" + key + R"(.","code":null}})"},
      {400, R"({"error":{"message":"bad header Authorization: Bearer )" + key + R"("}})"},
      {502, "<html>proxy saw key " + key + "</html>"},
      {200, "not json " + key},
      {200, R"({"choices":[{"message":{"content":null,"refusal":"no )" + key + R"("}}]})"},
      {200, R"({"choices":[{"message":{"content":")" + key + R"(")"},
      {200, R"({"error":{"code":500,"message":")" + key + R"("}})"},
  };
  for (const auto& [status, body] : cases) {
    auto e = error(status, body);
    ASSERT_TRUE(e) << body;
    const std::string message = e->what();
    EXPECT_EQ(message.find(key), std::string::npos) << message;
    EXPECT_EQ(message.find("SECRETKEY"), std::string::npos) << message;
    EXPECT_NE(message.find("[redacted]"), std::string::npos) << message;
  }
}

TEST_F(OpenAiCodecTest, KeyAtTheCutOfALongMessageIsRedacted) {
  const std::string message = std::string(490, 'm') + kSecretKey + std::string(100, 'n');
  auto e = error(400, R"({"error":{"message":")" + message + R"("}})");
  ASSERT_TRUE(e);
  const std::string what = e->what();
  EXPECT_EQ(what.find("fake-SEC"), std::string::npos) << what;
  EXPECT_EQ(what.find(std::string(100, 'n')), std::string::npos) << "long messages are cut";
}

// ---- retry_after_seconds --------------------------------------------------------------------

TEST_F(OpenAiCodecTest, RetryAfterHeaders) {
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, "", {{"retry-after", "2"}})), 2);
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, "", {{"retry-after-ms", "1500"}})), 1.5);
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, "", {{"Retry-After", "0.25"}})), 0.25);
}

TEST_F(OpenAiCodecTest, RetryAfterHttpDate) {
  const std::time_t later = std::time(nullptr) + 120;
  std::tm tm{};
  gmtime_r(&later, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  std::optional<double> delay = codec->retry_after_seconds(reply(503, "", {{"retry-after", date}}));
  ASSERT_TRUE(delay) << date;
  EXPECT_GT(*delay, 110);
  EXPECT_LE(*delay, 120);
}

TEST_F(OpenAiCodecTest, RetryAfterFromTheMessageAsFallback) {
  const std::string body =
      R"({"error":{"message":"Rate limit reached. Please try again in 5.289s. Visit )"
      R"(https://platform.openai.com/account/rate-limits.","type":"tokens",)"
      R"("code":"rate_limit_exceeded"}})";
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, body)), 5.289);
  // The header wins.
  EXPECT_DOUBLE_EQ(*codec->retry_after_seconds(reply(429, body, {{"retry-after", "2"}})), 2);
}

TEST_F(OpenAiCodecTest, NoRetryAfter) {
  EXPECT_EQ(codec->retry_after_seconds(reply(500, "")), std::nullopt);
  EXPECT_EQ(codec->retry_after_seconds(reply(429, R"({"error":{"message":"slow down"}})")),
            std::nullopt);
}

}  // namespace
}  // namespace tg::providers
