// The one API-key redactor of textgrad-cpp: every message, answer and excerpt that could echo a
// credential passes through it.
//
// Note [Which secrets are redacted]
// A secret shorter than kMinSecretLength characters is never redacted. Real provider keys are
// far longer (20 to 200 characters); a short "key" is a placeholder such as "ollama", "none"
// or "x" for a local server that checks nothing, and replacing it would corrupt every message
// and answer that happens to contain those letters while protecting nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tg::util {

inline constexpr std::size_t kMinSecretLength = 8;
inline constexpr std::string_view kRedacted = "[redacted]";

// `text` with every occurrence of `secret` replaced by kRedacted; unchanged when the secret is
// shorter than kMinSecretLength (see the note above).
std::string redact(std::string text, std::string_view secret);

// Several secrets at once (a key, credential-like headers). Thread-safe once built.
class Redactor {
 public:
  // Ignored when shorter than kMinSecretLength.
  void add(std::string secret);
  std::string operator()(std::string text) const;

 private:
  std::vector<std::string> secrets_;  // longest first: a secret containing another goes whole
};

}  // namespace tg::util
