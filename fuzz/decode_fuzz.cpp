// libFuzzer target: one provider's response decoder (TEXTGRAD_FUZZ_PROVIDER) on arbitrary
// HTTP answers. Input layout: byte 0 picks the status, byte 1 picks the retry headers, the rest
// is the body (and, for the headers, its first line).
//
// What must hold: decode() returns a Response or throws tg::Error (anything else escapes and
// is reported as a crash); an error message never contains the API key; and the answer does not
// depend on the key. The answer is the server's text: a server may echo a key in it, and the
// engine, not the codec, redacts answers (HttpEngineTest.KeysNeverAppearInAnswers). A codec
// that copied its key into an answer would change the answer with the key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>

#include "engine/providers/codec.h"
#include "textgrad/errors.h"

namespace {

constexpr std::string_view kKey = "fuzz-SECRETKEY-0123456789abcdef";
constexpr std::string_view kOtherKey = "fuzz-OTHERKEY-fedcba9876543210";

// Statuses the codecs treat differently, success most often.
constexpr int kStatuses[] = {200, 200, 200, 200, 201, 204, 302, 400, 401, 403,
                             404, 408, 409, 413, 422, 429, 500, 502, 503, 529};

void require_no_key(std::string_view text) {
  if (text.find(kKey) != std::string_view::npos) std::abort();
}

tg::http::Headers retry_headers(uint8_t selector, std::string_view body) {
  const std::string first_line(body.substr(0, body.find('\n')));
  switch (selector % 4) {
    case 1:
      return {{"retry-after", first_line}};
    case 2:
      return {{"retry-after-ms", first_line}};
    case 3:
      return {{"retry-after", first_line}, {"retry-after-ms", first_line}};
    default:
      return {};
  }
}

tg::providers::ProviderConfig config_with(std::string_view key) {
  return {.provider = TEXTGRAD_FUZZ_PROVIDER,
          .model = "fuzz-model",
          .base_url = "http://127.0.0.1:9",
          .api_key = std::string(key)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto codec = tg::providers::make_codec(TEXTGRAD_FUZZ_PROVIDER);
  static const tg::providers::ProviderConfig config = config_with(kKey);
  static const tg::providers::ProviderConfig other_config = config_with(kOtherKey);
  if (size < 2) return 0;
  tg::http::HttpResponse response;
  response.status = kStatuses[data[0] % std::size(kStatuses)];
  response.body.assign(reinterpret_cast<const char*>(data) + 2, size - 2);
  response.headers = retry_headers(data[1], response.body);

  (void)codec->retry_after_seconds(response);
  try {
    const tg::Response answer = codec->decode(response, config);
    const tg::Response other_answer = codec->decode(response, other_config);
    if (answer.text != other_answer.text || answer.model != other_answer.model) std::abort();
  } catch (const tg::Error& e) {
    require_no_key(e.what());
  }
  return 0;
}
