// The cache key: SHA-256 over a canonical serialization of everything that can change the
// answer. Every field is length-prefixed so that no two different requests serialize to the
// same bytes ("ab"+"c" and "a"+"bc" differ), and the format is versioned so a future change
// makes old entries miss instead of answering the wrong request.
#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <string_view>

#include "textgrad/cache.h"
#include "textgrad/errors.h"

namespace tg {
namespace {

// Bump when the serialization below changes.
// v2: the canonical provider, the wire format and the endpoint joined the key.
constexpr std::string_view kKeyVersion = "textgrad-cpp response cache key v2";

const EVP_MD* sha256() {
  // An explicit fetch, done once, avoids OpenSSL 3's implicit fetch on every digest.
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

class KeyHasher {
 public:
  KeyHasher() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), sha256(), nullptr) != 1) {
      throw Error("response cache: OpenSSL could not start a SHA-256 digest");
    }
  }

  void bytes(std::string_view data) {
    u64(data.size());
    update(data.data(), data.size());
  }

  void u64(std::uint64_t value) {
    // Fixed width, little-endian: independent of the host's byte order.
    std::array<unsigned char, 8> le{};
    for (size_t i = 0; i < le.size(); ++i) le[i] = static_cast<unsigned char>(value >> (8 * i));
    update(le.data(), le.size());
  }

  void i64(std::int64_t value) { u64(static_cast<std::uint64_t>(value)); }

  // Shortest round-trip text: the same double always gives the same bytes on every platform.
  void f64(double value) {
    std::array<char, 32> text{};
    auto result = std::to_chars(text.data(), text.data() + text.size(), value);
    bytes(std::string_view(text.data(), static_cast<size_t>(result.ptr - text.data())));
  }

  // A presence flag first, so "unset" can never equal any value.
  template <typename T, typename Write>
  void optional(const std::optional<T>& value, Write write) {
    u64(value.has_value() ? 1 : 0);
    if (value) write(*value);
  }

  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &size) != 1) {
      throw Error("response cache: OpenSSL could not finish a SHA-256 digest");
    }
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (unsigned int i = 0; i < size; ++i) {
      out += kDigits[digest[i] >> 4];
      out += kDigits[digest[i] & 0xf];
    }
    return out;
  }

 private:
  void update(const void* data, size_t size) {
    if (size > 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) {
      throw Error("response cache: OpenSSL SHA-256 update failed");
    }
  }

  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

void hash_content(KeyHasher& h, const std::vector<ContentPart>& content) {
  h.u64(content.size());
  for (const ContentPart& part : content) {
    if (part.is_image()) {
      h.bytes("image");
      h.bytes(part.media_type);
      h.bytes(part.data);
    } else {
      h.bytes("text");
      h.bytes(part.text);
    }
  }
}

void hash_sampling(KeyHasher& h, const SamplingParams& s) {
  h.optional(s.temperature, [&](double v) { h.f64(v); });
  h.optional(s.max_tokens, [&](int v) { h.i64(v); });
  h.optional(s.top_p, [&](double v) { h.f64(v); });
  h.optional(s.seed, [&](std::int64_t v) { h.i64(v); });
  h.u64(s.stop.size());
  for (const std::string& stop : s.stop) h.bytes(stop);
  h.bytes(s.json_schema);
  // The name is sent only together with a schema, so without one it cannot change the answer.
  h.bytes(s.json_schema.empty() ? std::string_view{} : std::string_view{s.json_schema_name});
}

}  // namespace

std::string cache_key(const EngineInfo& info, const Request& request) {
  KeyHasher h;
  h.bytes(kKeyVersion);
  h.bytes(info.provider);
  h.bytes(info.wire_format);
  h.bytes(info.endpoint);
  h.bytes(info.model);
  h.bytes(request.system_prompt);
  hash_content(h, request.content);
  hash_sampling(h, request.sampling ? *request.sampling : info.default_sampling);
  h.i64(request.sample_index);
  return h.hex();
}

}  // namespace tg
