// One place that limits load on an engine: requests in flight, requests per minute and tokens
// per minute, shared by every thread that uses the engine. Calls over a limit wait in a queue
// (submit() still returns at once); they never fail because of the limit.
#pragma once

#include "textgrad/engine.h"

namespace tg {

struct RateLimits {
  int max_in_flight = 0;           // 0 = unlimited
  double requests_per_minute = 0;  // 0 = unlimited
  double tokens_per_minute = 0;    // 0 = unlimited; prompts estimated at 4 characters a token
};

// Wraps `inner` so that every request passes through the limits, in submission order.
EnginePtr with_limits(EnginePtr inner, RateLimits limits);

}  // namespace tg
