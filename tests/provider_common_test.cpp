// Shared codec helpers: base64, HTTP dates, durations, Retry-After, error envelopes,
// status classification, redaction, make_codec.
#include <gtest/gtest.h>

#include <chrono>

#include "engine/providers/codec_common.h"
#include "provider_codec_test_util.h"

namespace tg::providers {
namespace {

using namespace std::chrono_literals;
using testing::reply;

// Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110.
constexpr std::int64_t kRfcExampleEpoch = 784111777;

std::chrono::system_clock::time_point at_epoch(std::int64_t seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

TEST(Base64Test, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, EncodesBinaryBytes) {
  EXPECT_EQ(base64_encode(std::string("\0", 1)), "AA==");
  EXPECT_EQ(base64_encode("\xFF\xFF\xFF"), "////");
  EXPECT_EQ(base64_encode("\xFB\xEF\xBE"), "++++");
  EXPECT_EQ(base64_encode(testing::kPngBytes), testing::kPngBase64);
  EXPECT_EQ(base64_encode(testing::kJpegBytes), testing::kJpegBase64);
}

TEST(Base64Test, DataUrl) {
  EXPECT_EQ(data_url("image/png", testing::kPngBytes), "data:image/png;base64,iVBORw0KGgo=");
}

TEST(UrlEncodeTest, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(url_encode("gpt-4o_mini.v1~x"), "gpt-4o_mini.v1~x");
  EXPECT_EQ(url_encode("a b/c?d"), "a%20b%2Fc%3Fd");
}

TEST(HeaderValueTest, IsCaseInsensitive) {
  http::Headers headers = {{"Retry-After", "3"}, {"x-other", "1"}};
  EXPECT_EQ(header_value(headers, "retry-after"), "3");
  EXPECT_EQ(header_value(headers, "RETRY-AFTER"), "3");
  EXPECT_EQ(header_value(headers, "missing"), "");
}

TEST(HttpDateTest, ParsesAllThreeForms) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kRfcExampleEpoch);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kRfcExampleEpoch);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), kRfcExampleEpoch);
  EXPECT_EQ(parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"), 1445412480);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"), 1835481599);
}

TEST(HttpDateTest, RejectsGarbage) {
  EXPECT_EQ(parse_http_date(""), std::nullopt);
  EXPECT_EQ(parse_http_date("tomorrow"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sun, 32 Nov 1994 08:49:37 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994"), std::nullopt);
}

TEST(DurationTest, ParsesServerDurations) {
  EXPECT_DOUBLE_EQ(*parse_duration("57.2s"), 57.2);
  EXPECT_DOUBLE_EQ(*parse_duration("30s"), 30);
  EXPECT_DOUBLE_EQ(*parse_duration("20ms"), 0.02);
  EXPECT_DOUBLE_EQ(*parse_duration("1m30s"), 90);
  EXPECT_DOUBLE_EQ(*parse_duration("6m0s"), 360);
  EXPECT_DOUBLE_EQ(*parse_duration("1h2m3.5s"), 3723.5);
  EXPECT_DOUBLE_EQ(*parse_duration("0.000340012s"), 0.000340012);
}

TEST(DurationTest, RejectsGarbage) {
  EXPECT_EQ(parse_duration(""), std::nullopt);
  EXPECT_EQ(parse_duration("57.2"), std::nullopt);
  EXPECT_EQ(parse_duration("s"), std::nullopt);
  EXPECT_EQ(parse_duration("-3s"), std::nullopt);
  EXPECT_EQ(parse_duration("3 days"), std::nullopt);
  EXPECT_EQ(parse_duration("nans"), std::nullopt);
}

TEST(RetryAfterHeadersTest, Seconds) {
  EXPECT_DOUBLE_EQ(*retry_after_from_headers(reply(429, "", {{"retry-after", "2"}}), at_epoch(0)),
                   2);
  EXPECT_DOUBLE_EQ(
      *retry_after_from_headers(reply(429, "", {{"Retry-After", " 1.5 "}}), at_epoch(0)), 1.5);
  EXPECT_DOUBLE_EQ(*retry_after_from_headers(reply(429, "", {{"retry-after", "0"}}), at_epoch(0)),
                   0);
}

TEST(RetryAfterHeadersTest, MillisecondsWinOverSeconds) {
  http::HttpResponse response = reply(429, "", {{"retry-after", "9"}, {"retry-after-ms", "250"}});
  EXPECT_DOUBLE_EQ(*retry_after_from_headers(response, at_epoch(0)), 0.25);
}

TEST(RetryAfterHeadersTest, BadMillisecondsFallBackToSeconds) {
  http::HttpResponse response = reply(429, "", {{"retry-after", "9"}, {"retry-after-ms", "soon"}});
  EXPECT_DOUBLE_EQ(*retry_after_from_headers(response, at_epoch(0)), 9);
}

TEST(RetryAfterHeadersTest, HttpDateIsRelativeToNow) {
  http::HttpResponse response = reply(503, "", {{"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}});
  EXPECT_DOUBLE_EQ(*retry_after_from_headers(response, at_epoch(kRfcExampleEpoch - 30)), 30);
  EXPECT_DOUBLE_EQ(*retry_after_from_headers(response, at_epoch(kRfcExampleEpoch) - 500ms), 0.5);
  // A date in the past means "now".
  EXPECT_DOUBLE_EQ(*retry_after_from_headers(response, at_epoch(kRfcExampleEpoch + 60)), 0);
}

TEST(RetryAfterHeadersTest, AbsentOrInvalid) {
  EXPECT_EQ(retry_after_from_headers(reply(429, ""), at_epoch(0)), std::nullopt);
  EXPECT_EQ(retry_after_from_headers(reply(429, "", {{"retry-after", "-5"}}), at_epoch(0)),
            std::nullopt);
  EXPECT_EQ(retry_after_from_headers(reply(429, "", {{"retry-after", "soon"}}), at_epoch(0)),
            std::nullopt);
}

TEST(RetryAfterMessageTest, ReadsProviderWording) {
  EXPECT_DOUBLE_EQ(*retry_after_from_message("Rate limit reached for gpt-4o in organization "
                                             "org-x on tokens per min. Please try again in "
                                             "5.289s. Visit https://platform.openai.com."),
                   5.289);
  EXPECT_DOUBLE_EQ(*retry_after_from_message("Please try again in 20ms."), 0.02);
  EXPECT_DOUBLE_EQ(*retry_after_from_message("Please try again in 1m30s."), 90);
  EXPECT_DOUBLE_EQ(*retry_after_from_message("Quota exceeded. Please retry in 43.6s."), 43.6);
  EXPECT_EQ(retry_after_from_message("Rate limit reached."), std::nullopt);
  EXPECT_EQ(retry_after_from_message(""), std::nullopt);
}

TEST(ErrorEnvelopeTest, OpenAi) {
  ErrorEnvelope envelope = parse_error_envelope(
      R"({"error":{"message":"Too long","type":"invalid_request_error","param":"messages",)"
      R"("code":"context_length_exceeded"}})");
  EXPECT_TRUE(envelope.found);
  EXPECT_EQ(envelope.message, "Too long");
  EXPECT_EQ(envelope.type, "invalid_request_error");
  EXPECT_EQ(envelope.code, "context_length_exceeded");
}

TEST(ErrorEnvelopeTest, CodeMayBeIntNullOrAbsent) {
  EXPECT_EQ(parse_error_envelope(R"({"error":{"message":"m","code":400}})").code, "400");
  EXPECT_EQ(parse_error_envelope(R"({"error":{"message":"m","code":null}})").code, "");
  EXPECT_EQ(parse_error_envelope(R"({"error":{"message":"m"}})").code, "");
  EXPECT_EQ(parse_error_envelope(R"({"error":{"message":"m","code":{"x":1}}})").code, "");
}

TEST(ErrorEnvelopeTest, Anthropic) {
  ErrorEnvelope envelope = parse_error_envelope(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},)"
      R"("request_id":"req_01"})");
  EXPECT_TRUE(envelope.found);
  EXPECT_EQ(envelope.type, "overloaded_error");
  EXPECT_EQ(envelope.message, "Overloaded");
}

TEST(ErrorEnvelopeTest, GeminiWithDetails) {
  ErrorEnvelope envelope = parse_error_envelope(R"({"error":{"code":429,"message":"Quota",
      "status":"RESOURCE_EXHAUSTED","details":[
        {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
        {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"},
        {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"57.2s"}]}})");
  EXPECT_TRUE(envelope.found);
  EXPECT_EQ(envelope.code, "429");
  EXPECT_EQ(envelope.status, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(envelope.reasons, std::vector<std::string>{"RATE_LIMIT_EXCEEDED"});
  EXPECT_EQ(envelope.retry_delay, "57.2s");
}

TEST(ErrorEnvelopeTest, GeminiArrayWrapped) {
  ErrorEnvelope envelope = parse_error_envelope(
      R"([{"error":{"code":503,"message":"Overloaded","status":"UNAVAILABLE"}}])");
  EXPECT_TRUE(envelope.found);
  EXPECT_EQ(envelope.message, "Overloaded");
}

TEST(ErrorEnvelopeTest, FlatVllmAndPlainString) {
  ErrorEnvelope flat = parse_error_envelope(
      R"({"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400})");
  EXPECT_TRUE(flat.found);
  EXPECT_EQ(flat.message, "bad");
  EXPECT_EQ(flat.code, "400");
  ErrorEnvelope plain = parse_error_envelope(R"({"error":"model 'x' not found"})");
  EXPECT_TRUE(plain.found);
  EXPECT_EQ(plain.message, "model 'x' not found");
}

TEST(ErrorEnvelopeTest, NotAnEnvelope) {
  EXPECT_FALSE(parse_error_envelope("").found);
  EXPECT_FALSE(parse_error_envelope("<html>502 Bad Gateway</html>").found);
  EXPECT_FALSE(parse_error_envelope(R"({"choices":[]})").found);
  EXPECT_FALSE(parse_error_envelope("[]").found);
  EXPECT_FALSE(parse_error_envelope(R"({"error":42})").found);
}

TEST(ClassifyStatusTest, FollowsTheSdkRetryRules) {
  EXPECT_EQ(classify_status(0), EngineErrorKind::kConnection);
  EXPECT_EQ(classify_status(400), EngineErrorKind::kBadRequest);
  EXPECT_EQ(classify_status(401), EngineErrorKind::kAuthentication);
  EXPECT_EQ(classify_status(403), EngineErrorKind::kAuthentication);
  EXPECT_EQ(classify_status(404), EngineErrorKind::kBadRequest);
  EXPECT_EQ(classify_status(408), EngineErrorKind::kTimeout);
  EXPECT_EQ(classify_status(409), EngineErrorKind::kServer);
  EXPECT_EQ(classify_status(413), EngineErrorKind::kBadRequest);
  EXPECT_EQ(classify_status(422), EngineErrorKind::kBadRequest);
  EXPECT_EQ(classify_status(429), EngineErrorKind::kRateLimited);
  EXPECT_EQ(classify_status(500), EngineErrorKind::kServer);
  EXPECT_EQ(classify_status(502), EngineErrorKind::kServer);
  EXPECT_EQ(classify_status(503), EngineErrorKind::kServer);
  EXPECT_EQ(classify_status(529), EngineErrorKind::kServer);
}

TEST(StatusForEnvelopeTest, PrefersIntCodeThenAnthropicType) {
  ErrorEnvelope envelope;
  envelope.code = "502";
  EXPECT_EQ(status_for_envelope(envelope, 500), 502);
  envelope.code = "rate_limit_exceeded";
  envelope.type = "rate_limit_error";
  EXPECT_EQ(status_for_envelope(envelope, 500), 429);
  envelope.type = "overloaded_error";
  EXPECT_EQ(status_for_envelope(envelope, 500), 529);
  envelope.type = "something_new";
  EXPECT_EQ(status_for_envelope(envelope, 500), 500);
}

TEST(RedactTest, ReplacesEveryOccurrence) {
  EXPECT_EQ(redact("key sk-12345678 and sk-12345678 again", "sk-12345678"),
            "key [redacted] and [redacted] again");
  EXPECT_EQ(redact("nothing here", "sk-12345678"), "nothing here");
  EXPECT_EQ(redact("empty key leaves text alone", ""), "empty key leaves text alone");
  // The mask must not re-match a key that is part of it.
  EXPECT_EQ(redact("redacted", "redacted"), "[redacted]");
}

// A placeholder key ("x", "ollama") is not a secret; redacting it would mangle every message.
TEST(RedactTest, KeysShorterThanEightCharactersAreLeftAlone) {
  EXPECT_EQ(redact("a bad request", "a"), "a bad request");
  EXPECT_EQ(redact("ollama answered", "ollama"), "ollama answered");
  EXPECT_EQ(redact("key 12345678", "12345678"), "key [redacted]");
}

TEST(RedactTest, OneLetterKeyDoesNotMangleErrorMessages) {
  ProviderConfig config;
  config.model = "gpt-4o";
  config.api_key = "e";
  const EngineError error =
      make_error(EngineErrorKind::kBadRequest, "the model rejected", 400, config);
  EXPECT_EQ(std::string(error.what()), "the model rejected");
}

TEST(BodyExcerptTest, TrimsCutsAndRedacts) {
  EXPECT_EQ(body_excerpt("\n\n  <html>", ""), "<html>");
  const std::string long_body(300, 'x');
  EXPECT_EQ(body_excerpt(long_body, ""), std::string(200, 'x') + "...");
  // The key straddles the cut: not even a prefix of it may survive.
  const std::string straddling = std::string(195, 'a') + testing::kSecretKey;
  const std::string excerpt = body_excerpt(straddling, testing::kSecretKey);
  EXPECT_EQ(excerpt.find("fake-SEC"), std::string::npos) << excerpt;
}

TEST(BodyExcerptTest, DoesNotSplitUtf8) {
  const std::string body = std::string(199, 'a') + "\xC3\xA9" + "tail";  // 'é' at the cut
  EXPECT_EQ(body_excerpt(body, ""), std::string(199, 'a') + "...");
}

TEST(SchemaNameTest, SanitizesForOpenAi) {
  EXPECT_EQ(schema_name("answer"), "answer");
  EXPECT_EQ(schema_name(""), "answer");
  EXPECT_EQ(schema_name("my schema.v2"), "my_schema_v2");
  EXPECT_EQ(schema_name(std::string(80, 'a')), std::string(64, 'a'));
}

TEST(MakeCodecTest, KnowsTheFourProviders) {
  for (const char* provider : {"openai", "azure", "anthropic", "gemini"}) {
    EXPECT_NE(make_codec(provider), nullptr) << provider;
  }
  EXPECT_THROW(make_codec("cohere"), InvalidArgument);
  EXPECT_THROW(make_codec(""), InvalidArgument);
}

}  // namespace
}  // namespace tg::providers
