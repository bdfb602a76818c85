// The fields a Chat Completions answer's decode reads, picked out while the body is parsed:
// Note [Reading answers without a document].
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "textgrad/engine.h"

namespace tg::providers {

// As a JSON document would read them: a member that is absent, null or of another type reads
// as empty or zero, and of members given twice the last one counts.
struct OpenAiAnswer {
  enum class Content { kNone, kText, kParts, kOther };  // kNone: absent or null

  bool is_object = false;          // the body is a JSON object (nothing else below is set if not)
  bool has_error = false;          // a top-level "error" member, of any type
  bool has_choices = false;        // a top-level "choices" member, of any type
  bool has_first_choice = false;   // "choices" is an array with at least one element
  bool message_is_object = false;  // choices[0].message
  std::string finish_reason;       // choices[0].finish_reason
  std::string model;
  std::string refusal;  // choices[0].message.refusal
  Content content = Content::kNone;
  // The content string, or the "text" of each of its parts joined (some servers send parts).
  std::string text;
  Usage usage;

  bool operator==(const OpenAiAnswer&) const = default;
};

// Throws nlohmann's parse_error, worded as json::parse() words it, when `body` is not JSON.
// Thread-safe.
OpenAiAnswer read_openai_answer(std::string_view body);

// The fast path of read_openai_answer() (Note [Lexing answers with simdjson]): the same fields,
// or nothing when simdjson cannot read `body`. Exposed for the tests.
std::optional<OpenAiAnswer> read_openai_answer_quickly(std::string_view body);

}  // namespace tg::providers
