#include "util/json_dump.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tg::util {

// Note [Dumping JSON in runs]
// nlohmann's serializer runs every byte of every string through a UTF-8 decoder and a
// 512-byte staging buffer: about 40 instructions a byte. A request body is mostly prompt text,
// so encoding a 3 KB feedback request cost more than the rest of the client's work on that
// call. dump_json() walks the same document and copies each string in runs between the bytes
// that need an escape, checking multi-byte sequences as it meets them; it looks at plain ASCII
// sixteen bytes at a time (eight without SSE2): well under an instruction a byte. It writes what
// nlohmann writes, byte for byte (tests/util_json_dump_test.cpp and the json_dump fuzz target
// compare the two), so cache keys, golden requests and files on disk do not change. Whatever it
// does not handle itself (a string that is not valid UTF-8, which nlohmann throws on or repairs;
// binary values) it hands the whole document back to nlohmann, so errors and repairs are nlohmann's
// own.

namespace {

enum ByteClass : unsigned char { kPlain, kEscaped, kMultibyte };

constexpr std::array<unsigned char, 256> kByteClasses = [] {
  std::array<unsigned char, 256> classes{};
  for (int c = 0; c < 0x20; ++c) classes[c] = kEscaped;
  classes['"'] = kEscaped;
  classes['\\'] = kEscaped;
  for (int c = 0x80; c < 0x100; ++c) classes[c] = kMultibyte;
  return classes;
}();

// The size of the well-formed UTF-8 sequence starting at text[at] (a byte >= 0x80), or 0 when
// it is ill-formed: the sequences of the Unicode standard's table 3-7, as nlohmann's decoder
// accepts them (no overlong forms, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence_size(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[at + i]); };
  const unsigned char lead = byte(0);
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  size_t size = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    size = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    size = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    size = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (text.size() - at < size || byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < size; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  return size;
}

void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '\b':
      out += "\\b";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    default: {
      constexpr std::string_view kHex = "0123456789abcdef";
      const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(escape, sizeof escape);
    }
  }
}

// Whether any of the eight bytes in `word` is below 0x20, '"', '\\' or above 0x7F. It may
// also say so for a byte after one that is: the caller then looks at them one at a time.
bool any_byte_needs_a_look(std::uint64_t word) {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHighBits = 0x8080808080808080;
  const auto zero_byte = [](std::uint64_t v) { return (v - kOnes) & ~v; };
  const std::uint64_t control = (word - kOnes * 0x20) & ~word;
  return ((control | zero_byte(word ^ (kOnes * '"')) | zero_byte(word ^ (kOnes * '\\')) | word) &
          kHighBits) != 0;
}

// The position of the first byte from `at` on that is not plain (below 0x20, '"', '\\' or
// above 0x7F), or text.size(). Sixteen bytes at a time where SSE2 is there (every x86-64),
// else eight.
size_t next_byte_to_look_at(std::string_view text, size_t at) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (text.size() - at >= 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + at));
    // A signed comparison: bytes above 0x7F are negative, so "below a space" takes them too.
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)),
                     _mm_cmplt_epi8(bytes, space));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return at + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    at += 16;
  }
#endif
  while (text.size() - at >= 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + at, sizeof word);
    if (any_byte_needs_a_look(word)) break;
    at += 8;
  }
  while (at < text.size() && kByteClasses[static_cast<unsigned char>(text[at])] == kPlain) ++at;
  return at;
}

// False when `text` is not valid UTF-8; `out` then holds a partial string.
bool append_quoted(std::string& out, std::string_view text) {
  out += '"';
  size_t copied = 0;
  for (size_t at = next_byte_to_look_at(text, 0); at < text.size();
       at = next_byte_to_look_at(text, at)) {
    const unsigned char c = static_cast<unsigned char>(text[at]);
    if (kByteClasses[c] == kMultibyte) {
      const size_t size = utf8_sequence_size(text, at);
      if (size == 0) return false;
      at += size;
    } else {
      out.append(text.data() + copied, at - copied);
      append_escape(out, c);
      copied = ++at;
    }
  }
  out.append(text.data() + copied, text.size() - copied);
  out += '"';
  return true;
}

template <class Json>
class Writer {
 public:
  explicit Writer(int indent) : pretty_(indent >= 0), step_(pretty_ ? size_t(indent) : 0) {}

  // False when a value needs nlohmann's own handling (see the note).
  bool write(const Json& value, size_t depth) {
    using Type = nlohmann::detail::value_t;
    switch (value.type()) {
      case Type::object:
        return write_object(value.template get_ref<const typename Json::object_t&>(), depth);
      case Type::array:
        return write_array(value.template get_ref<const typename Json::array_t&>(), depth);
      case Type::string:
        return append_quoted(out_, value.template get_ref<const typename Json::string_t&>());
      case Type::boolean:
        out_ += value.template get<bool>() ? "true" : "false";
        return true;
      case Type::number_integer:
        append_number(value.template get<std::int64_t>());
        return true;
      case Type::number_unsigned:
        append_number(value.template get<std::uint64_t>());
        return true;
      case Type::number_float:
        out_ += value.dump();
        return true;
      case Type::null:
        out_ += "null";
        return true;
      default:
        return false;  // binary and discarded values
    }
  }

  std::string take() { return std::move(out_); }

 private:
  // An object or an array: `write_element` writes one member or element.
  template <class Container, class WriteElement>
  bool write_container(const Container& container, size_t depth, char open, char close,
                       WriteElement write_element) {
    out_ += open;
    if (container.empty()) {
      out_ += close;
      return true;
    }
    bool first = true;
    for (const auto& element : container) {
      if (!first) out_ += ',';
      first = false;
      if (pretty_) out_ += '\n';
      indent(depth + 1);
      if (!write_element(element)) return false;
    }
    if (pretty_) out_ += '\n';
    indent(depth);
    out_ += close;
    return true;
  }

  template <class Object>
  bool write_object(const Object& object, size_t depth) {
    return write_container(object, depth, '{', '}', [&](const auto& member) {
      if (!append_quoted(out_, member.first)) return false;
      out_ += pretty_ ? ": " : ":";
      return write(member.second, depth + 1);
    });
  }

  template <class Array>
  bool write_array(const Array& array, size_t depth) {
    return write_container(array, depth, '[', ']',
                           [&](const Json& element) { return write(element, depth + 1); });
  }

  void indent(size_t depth) {
    if (pretty_) out_.append(depth * step_, ' ');
  }

  template <class Number>
  void append_number(Number number) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
    out_.append(digits, end);
  }

  bool pretty_;
  size_t step_;
  std::string out_;
};

template <class Json>
std::string dump_with_runs(const Json& value, int indent, InvalidUtf8 invalid) {
  Writer<Json> writer(indent);
  if (writer.write(value, 0)) return writer.take();
  return value.dump(indent, ' ', false,
                    invalid == InvalidUtf8::kReplace ? Json::error_handler_t::replace
                                                     : Json::error_handler_t::strict);
}

}  // namespace

bool append_json_string(std::string& out, std::string_view text) {
  return append_quoted(out, text);
}

std::string dump_json(const nlohmann::json& value, int indent, InvalidUtf8 invalid) {
  return dump_with_runs(value, indent, invalid);
}

std::string dump_json(const nlohmann::ordered_json& value, int indent, InvalidUtf8 invalid) {
  return dump_with_runs(value, indent, invalid);
}

}  // namespace tg::util
