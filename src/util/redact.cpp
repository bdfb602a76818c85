#include "util/redact.h"

#include <algorithm>

namespace tg::util {

std::string redact(std::string text, std::string_view secret) {
  if (secret.size() < kMinSecretLength) return text;
  // Searching on after the mask: a mask containing the secret is never re-matched.
  for (std::size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + kRedacted.size())) {
    text.replace(at, secret.size(), kRedacted);
  }
  return text;
}

void Redactor::add(std::string secret) {
  if (secret.size() < kMinSecretLength) return;
  secrets_.push_back(std::move(secret));
  std::ranges::stable_sort(
      secrets_, [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Redactor::operator()(std::string text) const {
  for (const std::string& secret : secrets_) text = redact(std::move(text), secret);
  return text;
}

}  // namespace tg::util
