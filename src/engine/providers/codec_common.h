// Helpers shared by the provider codecs: encodings (base64, data URLs, URL escaping), JSON
// field access and the decode skeleton every codec shares. Error classification lives in
// error_classification.h, HTTP semantics (Retry-After, dates) in http_semantics.h. Pure
// functions, no I/O.
//
// The header stays free of nlohmann/json: the few JSON accessors below are templates over the
// JSON type and are instantiated in the codec .cpp files.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/providers/codec.h"
#include "engine/providers/error_classification.h"
#include "engine/providers/http_semantics.h"
#include "http/http.h"
#include "textgrad/errors.h"
#include "util/json_parse.h"
#include "util/json_writer.h"
#include "util/redact.h"
#include "util/text.h"

namespace tg::providers {

using util::contains_ci;
using util::is_blank;
using util::redact;
using util::trim_left;

std::string base64_encode(std::string_view bytes);
// "data:image/png;base64,...."
std::string data_url(std::string_view media_type, std::string_view bytes);

// Percent-encodes everything outside RFC 3986's unreserved set.
std::string url_encode(std::string_view text);

// A user message's content as OpenAI and Anthropic take it: "" for none, the text alone for a
// single text part, else an array of parts: {"type":"text","text":...} for text, and what
// `write_image(out, part)` writes (one object) for an image.
template <class WriteImage>
void write_user_content(util::JsonWriter& out, const std::vector<ContentPart>& parts,
                        WriteImage write_image) {
  if (parts.empty()) {
    out.string("");
    return;
  }
  if (parts.size() == 1 && !parts.front().is_image()) {
    out.string(parts.front().text);
    return;
  }
  out.begin_array();
  for (const ContentPart& part : parts) {
    if (part.is_image()) {
      write_image(out, part);
    } else {
      out.begin_object().key("type").string("text").key("text").string(part.text).end_object();
    }
  }
  out.end_array();
}

// JSON accessors, generic so this header need not include nlohmann/json. Absent, null and
// wrongly typed fields read as empty / zero: providers omit default-valued fields.
template <class Json>
std::string string_field(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->template get<std::string>();
}

// A count sent as a floating-point number: truncated, and held to int64's range (converting a
// hostile 1e300 as it is would be undefined behaviour); NaN reads as zero.
inline std::int64_t count_from_float(double value) {
  if (std::isnan(value)) return 0;
  if (value >= 0x1p63) return std::numeric_limits<std::int64_t>::max();
  if (value < -0x1p63) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(value);
}

template <class Json>
std::int64_t count_field(const Json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return 0;
  return it->is_number_float() ? count_from_float(it->template get<double>())
                               : it->template get<std::int64_t>();
}

// Counts from an answer added up, held to int64's range: a hostile answer's huge counts must
// not overflow (undefined behaviour) when a codec sums them.
inline std::int64_t add_counts(std::initializer_list<std::int64_t> counts) {
  std::int64_t total = 0;
  for (const std::int64_t count : counts) {
    if (__builtin_add_overflow(total, count, &total)) {
      return count > 0 ? std::numeric_limits<std::int64_t>::max()
                       : std::numeric_limits<std::int64_t>::min();
    }
  }
  return total;
}

template <class Json>
const Json& object_field(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The body of a 2xx answer as a JSON object; kMalformed when it is not one.
template <class Json>
Json parse_object_body(const http::HttpResponse& response, const ProviderInfo& provider,
                       const ProviderConfig& config) {
  if (is_blank(response.body)) throw_malformed("the body is empty", response, provider, config);
  Json body;
  try {
    body = util::parse_json_as<Json>(response.body);  // Note [Parsing JSON with simdjson]
  } catch (const std::exception& e) {
    throw_malformed("the body is not valid JSON (" + json_error_summary(e.what()) + ")", response,
                    provider, config);
  }
  if (!body.is_object())
    throw_malformed("the body is not a JSON object", response, provider, config);
  return body;
}

// The shape every codec's decode() shares: a non-2xx status becomes the classified HTTP error,
// and a 2xx body whose fields have unexpected types is malformed.
template <class Json, class DecodeSuccess>
Response decode_or_throw(const http::HttpResponse& response, const ProviderInfo& provider,
                         const ProviderConfig& config, DecodeSuccess decode_success) {
  if (response.status < 200 || response.status > 299) {
    throw_http_error(response, response.status, provider, config);
  }
  try {
    return decode_success();
  } catch (const typename Json::exception& e) {
    throw_malformed("a field has an unexpected type (" + json_error_summary(e.what()) + ")",
                    response, provider, config);
  }
}

// SamplingParams::json_schema as a JSON object; InvalidArgument when it is not one.
template <class Json>
Json parse_schema(const SamplingParams& sampling) {
  Json schema;
  try {
    schema = Json::parse(sampling.json_schema);
  } catch (const std::exception& e) {
    throw InvalidArgument(std::string("SamplingParams::json_schema is not valid JSON: ") +
                          e.what());
  }
  if (!schema.is_object()) {
    throw InvalidArgument("SamplingParams::json_schema must be a JSON object (a JSON Schema)");
  }
  return schema;
}

// OpenAI restricts schema names to [A-Za-z0-9_-]{1,64}; anything else becomes '_'.
std::string schema_name(std::string_view name);

std::unique_ptr<Codec> make_openai_codec(bool azure);
std::unique_ptr<Codec> make_anthropic_codec();
std::unique_ptr<Codec> make_gemini_codec();

}  // namespace tg::providers
