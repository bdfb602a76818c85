// When to retry a failed LLM request, and how long to wait first. A pure function, so the
// policy is testable without servers or clocks.
#pragma once

#include <optional>
#include <string>

#include "textgrad/engine.h"
#include "textgrad/errors.h"

namespace tg::engine {

struct RetryOptions {
  int max_retries = 4;              // retries after the first attempt
  double initial_delay_s = 0.5;     // backoff before the first retry, doubled each time...
  double max_delay_s = 8.0;         // ...up to this
  double max_retry_after_s = 60.0;  // a server asking for a longer wait makes us give up
};

// What is known about one failed attempt.
struct AttemptFailure {
  EngineErrorKind kind = EngineErrorKind::kConnection;
  int http_status = 0;  // 0 when no response arrived
  // The wait the server asked for (Retry-After and friends), if any.
  std::optional<double> retry_after_s;
  // The server's explicit verdict (x-should-retry), which overrides the status rule.
  std::optional<bool> server_says_retry;
  // False when the transport knows repeating cannot help (TLS verification, bad URL).
  bool retryable = true;
  // Tokens billed for the failed answer (a refused or truncated answer still costs them).
  Usage billed;
};

struct RetryDecision {
  bool retry = false;
  double delay_s = 0;
  // Why we stop, for the final error message; empty when retrying.
  std::string give_up_reason;
};

// True when the failure is worth another attempt, ignoring the retry budget: transient kinds
// (connection, timeout, rate limit, server) and HTTP 408, 409, 429 and 5xx (529 included),
// unless the codec recognised a cause that repeating cannot fix (context length, key, refusal).
bool is_retryable(const AttemptFailure& failure);

// `retries_done` counts retries already made (0 after the first attempt failed).
// `jitter` is a uniform random number in [0, 1); the backoff is multiplied by 1 - jitter/4,
// a factor in (0.75, 1], so that many clients failing together do not retry in lockstep.
RetryDecision decide_retry(const RetryOptions& options, const AttemptFailure& failure,
                           int retries_done, double jitter);

}  // namespace tg::engine
