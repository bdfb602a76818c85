// What the OpenAI codec read from an answer when it parsed the body into a nlohmann::json
// document: the reference that read_openai_answer() must equal
// (Note [Reading answers without a document]). Shared by the codec test and a fuzz target.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/providers/codec_common.h"
#include "engine/providers/openai_answer.h"

namespace tg::providers::testing {

// Throws what json::parse() throws when `body` is not JSON.
inline OpenAiAnswer read_as_a_document(const std::string& body) {
  using Json = nlohmann::json;
  const Json document = Json::parse(body);
  OpenAiAnswer answer;
  if (!document.is_object()) return answer;
  answer.is_object = true;
  answer.has_error = document.contains("error");
  answer.has_choices = document.contains("choices");
  answer.model = string_field(document, "model");
  const Json& usage = object_field(document, "usage");
  answer.usage.input_tokens = count_field(usage, "prompt_tokens");
  answer.usage.output_tokens = count_field(usage, "completion_tokens");
  answer.usage.cached_input_tokens =
      count_field(object_field(usage, "prompt_tokens_details"), "cached_tokens");
  if (answer.usage.cached_input_tokens == 0) {
    answer.usage.cached_input_tokens = count_field(usage, "prompt_cache_hit_tokens");
  }
  const Json& choices = object_field(document, "choices");
  answer.has_first_choice = choices.is_array() && !choices.empty();
  if (!answer.has_first_choice) return answer;
  answer.finish_reason = string_field(choices[0], "finish_reason");
  const Json& message = object_field(choices[0], "message");
  answer.message_is_object = message.is_object();
  if (!answer.message_is_object) return answer;
  answer.refusal = string_field(message, "refusal");
  const Json& content = object_field(message, "content");
  if (content.is_string()) {
    answer.content = OpenAiAnswer::Content::kText;
    answer.text = content.get<std::string>();
  } else if (content.is_array()) {
    answer.content = OpenAiAnswer::Content::kParts;
    for (const Json& part : content) answer.text += string_field(part, "text");
  } else if (!content.is_null()) {
    answer.content = OpenAiAnswer::Content::kOther;
  }
  return answer;
}

}  // namespace tg::providers::testing
