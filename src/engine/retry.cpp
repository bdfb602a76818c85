#include "engine/retry.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace tg::engine {
namespace {

bool is_retryable_status(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

// Kinds whose cause a retry cannot change, even when the status alone would say "retry"
// (e.g. Gemini reports over-long input as 500).
bool is_permanent_kind(EngineErrorKind kind) {
  switch (kind) {
    case EngineErrorKind::kAuthentication:
    case EngineErrorKind::kContextLength:
    case EngineErrorKind::kRefusal:
    case EngineErrorKind::kUnsupported:
    case EngineErrorKind::kOffline:
    case EngineErrorKind::kBudget:
    case EngineErrorKind::kCancelled:
      return true;
    default:
      return false;
  }
}

double backoff_s(const RetryOptions& options, int retries_done, double jitter) {
  const double base = options.initial_delay_s * std::pow(2.0, retries_done);
  const double capped = std::min(base, options.max_delay_s);
  return capped * (1.0 - std::clamp(jitter, 0.0, 1.0) / 4.0);
}

}  // namespace

bool is_retryable(const AttemptFailure& failure) {
  if (failure.kind == EngineErrorKind::kCancelled || !failure.retryable) return false;
  if (failure.server_says_retry.has_value()) return *failure.server_says_retry;
  if (is_permanent_kind(failure.kind)) return false;
  return is_transient(failure.kind) || is_retryable_status(failure.http_status);
}

RetryDecision decide_retry(const RetryOptions& options, const AttemptFailure& failure,
                           int retries_done, double jitter) {
  if (!is_retryable(failure)) return {false, 0, "not retried: repeating cannot fix this"};
  if (retries_done >= options.max_retries) {
    return {false, 0, fmt::format("gave up after {} attempts", retries_done + 1)};
  }
  if (failure.retry_after_s.has_value() && *failure.retry_after_s > 0) {
    const double asked = *failure.retry_after_s;
    if (asked > options.max_retry_after_s) {
      return {false, 0,
              fmt::format("gave up after {} attempt(s): the server asked to wait {:.0f} s, more "
                          "than the {:.0f} s limit; try again later or lower the request rate",
                          retries_done + 1, asked, options.max_retry_after_s)};
    }
    return {true, asked, {}};
  }
  return {true, backoff_s(options, retries_done, jitter), {}};
}

}  // namespace tg::engine
