// One place that limits load on an engine: requests in flight, requests per minute and tokens
// per minute, shared by every thread that uses the engine. Calls over a limit wait in a queue
// (submit() still returns at once); they never fail because of the limit.
//
// Teardown: when the limited engine is destroyed, requests still waiting in its queue
// complete at once with EngineErrorKind::kCancelled (a Variable waiting on one never hangs);
// requests already passed to the inner engine complete as the inner engine decides.
// Callbacks must not throw; an exception thrown by one is swallowed so the queue keeps moving.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "textgrad/engine.h"

namespace tg {

// The time source of the time-dependent decorators (rate windows, retry backoff), so tests
// can drive time by hand instead of sleeping. Thread-safe.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Calls `wake` once, at or after `when`, on any thread (possibly inline, before returning,
  // so callers must not hold a lock `wake` takes). `wake` must be cheap and must not block.
  virtual void wake_at(TimePoint when, std::function<void()> wake) = 0;
};

// std::chrono::steady_clock; wake_at runs its callbacks on one timer thread shared by the
// process, so they must be short and must not block (as the contract above says).
std::shared_ptr<Clock> system_clock();

struct RateLimits {
  int max_in_flight = 0;           // 0 = unlimited
  double requests_per_minute = 0;  // 0 = unlimited
  double tokens_per_minute = 0;    // 0 = unlimited; prompts estimated at 4 characters a token
};

// Wraps `inner` so that every request passes through the limits, in submission order, except
// that evaluation requests (Phase::kEvaluation) wait behind queued requests of the other
// phases, which usually form a chain someone waits for. The rate windows read `clock`
// (nullptr: system_clock()).
EnginePtr with_limits(EnginePtr inner, RateLimits limits, std::shared_ptr<Clock> clock = nullptr);

}  // namespace tg
