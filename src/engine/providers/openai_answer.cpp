#include "engine/providers/openai_answer.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "engine/providers/codec_common.h"
#include "util/simdjson_parser.h"

namespace tg::providers {

// Note [Reading answers without a document]
// Parsing an answer into a nlohmann::json allocated a node, a map entry and a string for every
// member (ids, timestamps, logprobs, token details nobody reads) and freed them all again: 20 k
// of the 55 k instructions that decoding a short answer cost, on the I/O thread that every
// answer passes through. read_openai_answer() drives nlohmann's SAX parser instead and keeps
// only what decode reads, with the document's rules: absent, null and wrongly typed members
// read as empty, and of a member given twice the last one counts. The lexer, and so what is
// valid JSON and how a syntax error is worded, stays nlohmann's.
// OpenAiAnswerTest.ReadsWhatTheDocumentRead and the openai_answer fuzz target compare the two
// readings (tests/support/openai_answer_reference.h is the document's).

// Note [Lexing answers with simdjson]
// What the reader above still cost was nlohmann's lexer (Note [Parsing JSON with simdjson] in
// src/util/json_parse.cpp): 31 k of the 36 k instructions of a short answer. So simdjson parses
// the body first, and its values are replayed to the same AnswerReader in document order, as
// nlohmann's SAX parser would announce them; what the reader skips is not replayed. A body that
// simdjson refuses goes to nlohmann's SAX parser as before, so errors keep nlohmann's wording.
// The reader treats integers of either sign and floats alike wherever it reads a count, so the
// number kinds simdjson reports (it reads "0" as signed) make no difference.
// OpenAiAnswerTest.SimdjsonReadsEveryValidAnswer checks that valid answers take this path and
// that it refuses what nlohmann refuses; the tests and the fuzz target above compare readings.

namespace {

using Json = nlohmann::json;

// Which value the parser is in: one of those decode reads, or one it skips.
enum class Slot {
  kSkipped,
  kRoot,
  kError,
  kChoices,
  kFirstChoice,
  kFinishReason,
  kMessage,
  kRefusal,
  kContent,
  kPart,
  kPartText,
  kModel,
  kUsage,
  kPromptTokens,
  kCompletionTokens,
  kDetails,
  kCachedTokens,
  kCacheHitTokens,
};

class AnswerReader {
 public:
  explicit AnswerReader(OpenAiAnswer& answer) : answer_(answer) {}

  // Reading stops at the first syntax error, which is thrown as json::parse() throws it.
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& error) {
    throw error;
  }

  void finish() {
    answer_.usage.input_tokens = prompt_tokens_;
    answer_.usage.output_tokens = completion_tokens_;
    // DeepSeek reports its cache hits under its own name.
    answer_.usage.cached_input_tokens = cached_tokens_ != 0 ? cached_tokens_ : cache_hit_tokens_;
  }

  // The member's earlier value was forgotten at its key: null reads as empty everywhere.
  bool null() {
    begin_value();
    return true;
  }
  bool boolean(bool) { return scalar(); }
  bool number_integer(std::int64_t value) { return count(begin_value(), value); }
  bool number_unsigned(std::uint64_t value) {
    return count(begin_value(), static_cast<std::int64_t>(value));
  }
  bool number_float(double value, const std::string&) {
    const Slot slot = begin_value();
    return count(slot, is_count(slot) ? count_from_float(value) : 0);
  }
  bool binary(Json::binary_t&) { return scalar(); }

  bool string(std::string& value) { return text(std::move(value)); }
  bool string(std::string_view value) { return text(value); }

  bool start_object(std::size_t) {
    Slot slot = begin_value();
    switch (slot) {
      case Slot::kRoot:
        answer_.is_object = true;
        break;
      case Slot::kFirstChoice:
      case Slot::kUsage:
      case Slot::kDetails:
        break;
      case Slot::kMessage:
        answer_.message_is_object = true;
        break;
      case Slot::kContent:
        answer_.content = OpenAiAnswer::Content::kOther;
        slot = Slot::kSkipped;
        break;
      case Slot::kPart:
        part_text_.clear();
        break;
      default:
        slot = Slot::kSkipped;
    }
    open_.push_back({slot});
    return true;
  }

  bool key(std::string& name) { return key(std::string_view(name)); }
  bool key(std::string_view name) {
    const Slot container = open_.back().slot;
    next_ = Slot::kSkipped;
    if (container == Slot::kSkipped) return true;
    next_ = member_slot(container, name);
    forget(next_);  // the member's previous value, if it was given twice
    return true;
  }

  bool end_object() {
    if (open_.back().slot == Slot::kPart) answer_.text += part_text_;
    open_.pop_back();
    return true;
  }

  bool start_array(std::size_t) {
    Slot slot = begin_value();
    if (slot == Slot::kContent) {
      answer_.content = OpenAiAnswer::Content::kParts;
    } else if (slot != Slot::kChoices) {
      if (slot == Slot::kRoot) answer_.is_object = false;
      slot = Slot::kSkipped;
    }
    open_.push_back({slot});
    return true;
  }

  bool end_array() {
    open_.pop_back();
    return true;
  }

  // True inside a value whose members or elements decide nothing.
  bool skipping() const { return !open_.empty() && open_.back().slot == Slot::kSkipped; }

 private:
  struct Open {
    Slot slot;
    std::size_t elements = 0;  // in an array, so far
  };

  // A string value: `value` is a std::string to move from or a view to copy.
  template <class Text>
  bool text(Text&& value) {
    switch (begin_value()) {
      case Slot::kFinishReason:
        answer_.finish_reason = std::forward<Text>(value);
        break;
      case Slot::kRefusal:
        answer_.refusal = std::forward<Text>(value);
        break;
      case Slot::kModel:
        answer_.model = std::forward<Text>(value);
        break;
      case Slot::kContent:
        answer_.content = OpenAiAnswer::Content::kText;
        answer_.text = std::forward<Text>(value);
        break;
      case Slot::kPartText:
        part_text_ = std::forward<Text>(value);
        break;
      default:
        break;
    }
    return true;
  }

  static Slot member_slot(Slot container, std::string_view name) {
    switch (container) {
      case Slot::kRoot:
        if (name == "choices") return Slot::kChoices;
        if (name == "model") return Slot::kModel;
        if (name == "usage") return Slot::kUsage;
        if (name == "error") return Slot::kError;
        break;
      case Slot::kFirstChoice:
        if (name == "message") return Slot::kMessage;
        if (name == "finish_reason") return Slot::kFinishReason;
        break;
      case Slot::kMessage:
        if (name == "content") return Slot::kContent;
        if (name == "refusal") return Slot::kRefusal;
        break;
      case Slot::kPart:
        if (name == "text") return Slot::kPartText;
        break;
      case Slot::kUsage:
        if (name == "prompt_tokens") return Slot::kPromptTokens;
        if (name == "completion_tokens") return Slot::kCompletionTokens;
        if (name == "prompt_tokens_details") return Slot::kDetails;
        if (name == "prompt_cache_hit_tokens") return Slot::kCacheHitTokens;
        break;
      case Slot::kDetails:
        if (name == "cached_tokens") return Slot::kCachedTokens;
        break;
      default:
        break;
    }
    return Slot::kSkipped;
  }

  // Resets what the member about to be read decides, so that a later copy of it wins whole.
  void forget(Slot slot) {
    switch (slot) {
      case Slot::kError:
        answer_.has_error = true;
        break;
      case Slot::kChoices:
        answer_.has_choices = true;
        answer_.has_first_choice = false;
        forget_choice();
        break;
      case Slot::kFirstChoice:
        forget_choice();
        break;
      case Slot::kFinishReason:
        answer_.finish_reason.clear();
        break;
      case Slot::kMessage:
        forget_message();
        break;
      case Slot::kRefusal:
        answer_.refusal.clear();
        break;
      case Slot::kContent:
        answer_.content = OpenAiAnswer::Content::kNone;
        answer_.text.clear();
        break;
      case Slot::kPartText:
        part_text_.clear();
        break;
      case Slot::kModel:
        answer_.model.clear();
        break;
      case Slot::kUsage:
        prompt_tokens_ = completion_tokens_ = cached_tokens_ = cache_hit_tokens_ = 0;
        break;
      case Slot::kPromptTokens:
        prompt_tokens_ = 0;
        break;
      case Slot::kCompletionTokens:
        completion_tokens_ = 0;
        break;
      case Slot::kDetails:
      case Slot::kCachedTokens:
        cached_tokens_ = 0;
        break;
      case Slot::kCacheHitTokens:
        cache_hit_tokens_ = 0;
        break;
      default:
        break;
    }
  }

  void forget_choice() {
    answer_.finish_reason.clear();
    forget_message();
  }

  void forget_message() {
    answer_.message_is_object = false;
    answer_.refusal.clear();
    answer_.content = OpenAiAnswer::Content::kNone;
    answer_.text.clear();
  }

  // The slot of the value that starts now: a member's (from its key) or an array element's.
  Slot begin_value() {
    if (open_.empty()) return Slot::kRoot;
    Open& container = open_.back();
    switch (container.slot) {
      case Slot::kChoices:
        if (container.elements++ > 0) return Slot::kSkipped;
        answer_.has_first_choice = true;
        return Slot::kFirstChoice;
      case Slot::kContent:
        return Slot::kPart;  // a part that is not an object adds nothing
      case Slot::kSkipped:
        return Slot::kSkipped;
      default:
        return std::exchange(next_, Slot::kSkipped);
    }
  }

  // A boolean, or binary data (which JSON text does not have).
  bool scalar() {
    if (begin_value() == Slot::kContent) answer_.content = OpenAiAnswer::Content::kOther;
    return true;
  }

  static bool is_count(Slot slot) {
    return slot == Slot::kPromptTokens || slot == Slot::kCompletionTokens ||
           slot == Slot::kCachedTokens || slot == Slot::kCacheHitTokens;
  }

  bool count(Slot slot, std::int64_t value) {
    switch (slot) {
      case Slot::kPromptTokens:
        prompt_tokens_ = value;
        break;
      case Slot::kCompletionTokens:
        completion_tokens_ = value;
        break;
      case Slot::kCachedTokens:
        cached_tokens_ = value;
        break;
      case Slot::kCacheHitTokens:
        cache_hit_tokens_ = value;
        break;
      case Slot::kContent:
        answer_.content = OpenAiAnswer::Content::kOther;
        break;
      default:
        break;
    }
    return true;
  }

  OpenAiAnswer& answer_;
  std::vector<Open> open_;
  Slot next_ = Slot::kSkipped;
  std::string part_text_;
  std::int64_t prompt_tokens_ = 0;
  std::int64_t completion_tokens_ = 0;
  std::int64_t cached_tokens_ = 0;
  std::int64_t cache_hit_tokens_ = 0;
};

// Announces `value` to the reader as nlohmann's SAX parser would (Note [Lexing answers with
// simdjson]); the members and elements of what the reader skips are left out.
void replay(simdjson::dom::element value, AnswerReader& reader) {
  using Type = simdjson::dom::element_type;
  switch (value.type()) {
    case Type::OBJECT:
      reader.start_object(0);
      if (!reader.skipping()) {
        const simdjson::dom::object object = value.get_object().value_unsafe();
        for (const simdjson::dom::key_value_pair member : object) {
          reader.key(member.key);
          replay(member.value, reader);
        }
      }
      reader.end_object();
      return;
    case Type::ARRAY:
      reader.start_array(0);
      if (!reader.skipping()) {
        const simdjson::dom::array array = value.get_array().value_unsafe();
        for (const simdjson::dom::element element : array) {
          replay(element, reader);
        }
      }
      reader.end_array();
      return;
    case Type::STRING:
      reader.string(value.get_string().value_unsafe());
      return;
    case Type::INT64:
      reader.number_integer(value.get_int64().value_unsafe());
      return;
    case Type::UINT64:
      reader.number_unsigned(value.get_uint64().value_unsafe());
      return;
    case Type::DOUBLE: {
      static const std::string kNoText;  // the reader never looks at a number's text
      reader.number_float(value.get_double().value_unsafe(), kNoText);
      return;
    }
    case Type::BOOL:
      reader.boolean(value.get_bool().value_unsafe());
      return;
    case Type::NULL_VALUE:
      reader.null();
      return;
  }
}

// `answer` is what `reader` read into.
OpenAiAnswer finished(OpenAiAnswer& answer, AnswerReader& reader) {
  if (!answer.is_object) return OpenAiAnswer{};
  reader.finish();
  return std::move(answer);
}

}  // namespace

std::optional<OpenAiAnswer> read_openai_answer_quickly(std::string_view body) {
  util::SimdjsonParser parser;
  const std::optional<simdjson::dom::element> root = parser.parse(body);
  if (!root) return std::nullopt;
  OpenAiAnswer answer;
  AnswerReader reader(answer);
  replay(*root, reader);
  return finished(answer, reader);
}

OpenAiAnswer read_openai_answer(std::string_view body) {
  if (std::optional<OpenAiAnswer> answer = read_openai_answer_quickly(body)) return *answer;
  OpenAiAnswer answer;
  AnswerReader reader(answer);
  Json::sax_parse(body.begin(), body.end(), &reader);
  return finished(answer, reader);
}

}  // namespace tg::providers
