// Helpers for the provider codec tests.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/providers/codec.h"
#include "http/http.h"
#include "textgrad/errors.h"

namespace tg::providers::testing {

// 1x1-image stand-ins: the first bytes of a PNG and a JPEG file, with their base64.
inline const std::string kPngBytes("\x89PNG\r\n\x1a\n", 8);
inline const std::string kPngBase64 = "iVBORw0KGgo=";
inline const std::string kJpegBytes("\xFF\xD8\xFF\xE0", 4);
inline const std::string kJpegBase64 = "/9j/4A==";

inline constexpr const char* kSecretKey = "fake-SECRETKEY-0123456789abcdef";

inline http::HttpResponse reply(int status, std::string body, http::Headers headers = {}) {
  http::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

inline nlohmann::json body_json(const http::HttpRequest& request) {
  return nlohmann::json::parse(request.body);
}

// The EngineError decode() throws; a failed expectation (and nullopt) when it returns.
inline std::optional<EngineError> decode_error(const Codec& codec,
                                               const http::HttpResponse& response,
                                               const ProviderConfig& config) {
  try {
    Response decoded = codec.decode(response, config);
    ADD_FAILURE() << "decode() returned \"" << decoded.text << "\" instead of throwing";
  } catch (const EngineError& error) {
    return error;
  }
  return std::nullopt;
}

// A user turn of text and images in the given order.
inline Request mixed_request(std::string system) {
  Request request;
  request.system_prompt = std::move(system);
  request.content = {ContentPart::Text("Compare these."),
                     ContentPart::Image("image/png", kPngBytes),
                     ContentPart::Image("image/jpeg", kJpegBytes), ContentPart::Text("Which?")};
  return request;
}

inline SamplingParams all_sampling() {
  SamplingParams sampling;
  sampling.temperature = 0.7;
  sampling.top_p = 0.5;
  sampling.max_tokens = 50;
  sampling.seed = 7;
  sampling.stop = {"\n\n", "END"};
  return sampling;
}

inline SamplingParams no_sampling() {
  SamplingParams sampling;
  sampling.temperature.reset();
  sampling.top_p.reset();
  sampling.max_tokens.reset();
  return sampling;
}

inline constexpr const char* kSchema =
    R"({"type":"object","properties":{"c":{"type":"string"}},"required":["c"],)"
    R"("additionalProperties":false})";

// Text with every kind of byte a JSON writer must treat specially.
inline const std::string kAwkwardText = "quote \" backslash \\ newline \n tab \t nul " +
                                        std::string(1, '\0') +
                                        " bell \x07 del \x7f é 中 😀 \u2028 end";

// Requests and samplings that exercise every branch of an encoder: Note [Writing requests
// directly] requires each encoder to write the bytes its old ordered_json gave for all of them.
inline std::vector<Request> encoder_requests() {
  std::vector<Request> requests = {Request::Text("Hi"),
                                   Request::Text("Colour?", "Answer in JSON."),
                                   Request::Text(kAwkwardText, kAwkwardText),
                                   Request::Text("", ""),
                                   mixed_request("Be brief."),
                                   mixed_request("")};
  Request parts;
  parts.content = {ContentPart::Text("a"), ContentPart::Text(kAwkwardText)};
  requests.push_back(parts);
  requests.push_back(Request{});
  return requests;
}

inline std::vector<SamplingParams> encoder_samplings() {
  std::vector<SamplingParams> samplings = {SamplingParams{}, all_sampling(), no_sampling()};
  SamplingParams odd;
  odd.temperature = 1.0 / 3;
  odd.top_p = 1e-7;
  odd.seed = -42;
  odd.max_tokens = 0;
  odd.stop = {"", kAwkwardText};
  odd.json_schema = kSchema;
  odd.json_schema_name = "a name/with spaces";
  samplings.push_back(odd);
  SamplingParams top_p_only = no_sampling();
  top_p_only.top_p = 0.25;
  samplings.push_back(top_p_only);
  return samplings;
}

}  // namespace tg::providers::testing
