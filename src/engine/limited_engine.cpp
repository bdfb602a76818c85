// Note [Pumping the queue]
// Completions and submissions both try to start queued calls. Only one thread pumps at a
// time; the others return at once, so a synchronous inner engine cannot recurse without bound.
// The pumper looks at the queue again after starting calls and stops only in the critical
// section that found nothing to start, so no wake-up is lost. Calls are started outside the lock
// because the inner engine may complete them on the spot, and the clock is asked for a wake-up
// outside it too because a test clock may wake us inline.

// Note [Chain calls first]
// Evaluation calls (Phase::kEvaluation) are wide: a hundred independent items, none waiting
// for another. Calls of the other phases are usually links of a chain (forward, loss,
// feedback, update: each waits for the one before). When both wait for a slot, the chain goes
// first: it is what the next call waits for, and an evaluation loses nothing by finishing a
// round later. This is what lets `textgrad optimize` overlap a step's test evaluation with the
// next step's training (Note [Pipelined protocol] in tools/textgrad/optimize_run.cpp): under
// one FIFO the hundred test calls would take every slot ahead of the three training calls.
// Within each class the order stays that of submission. Only the order changes, never what is
// sent or answered.
#include <algorithm>
#include <atomic>
#include <deque>
#include <iterator>
#include <mutex>
#include <optional>
#include <vector>

#include "textgrad/errors.h"
#include "textgrad/limits.h"
#include "util/timer.h"

namespace tg {
namespace {

using TimePoint = Clock::TimePoint;
constexpr auto kWindow = std::chrono::minutes(1);

std::int64_t estimate_prompt_tokens(const Request& request) {
  size_t chars = request.system_prompt.size();
  for (const ContentPart& part : request.content) {
    chars += part.is_image() ? 4000 : part.text.size();  // an image costs roughly 1k tokens
  }
  return static_cast<std::int64_t>(chars / 4 + 1);
}

// Runs `done` and swallows what it throws: one bad callback must not stop the queue.
void deliver(const std::function<void(Outcome)>& done, Outcome outcome) noexcept {
  try {
    done(std::move(outcome));
  } catch (...) {
  }
}

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void wake_at(TimePoint when, std::function<void()> wake) override {
    // The process's timer, not a timer per engine: the callback may end up holding the last
    // reference to its engine, which must not join its own timer thread in its destructor.
    // Nor a sleeper thread per wake-up: under a saturated requests-per-minute limit that
    // was a thread per call.
    detail::Timer::shared().schedule(when, std::move(wake));
  }
};

class LimitedEngine : public Engine, public std::enable_shared_from_this<LimitedEngine> {
 public:
  LimitedEngine(EnginePtr inner, RateLimits limits, std::shared_ptr<Clock> clock)
      : inner_(std::move(inner)), limits_(limits), clock_(std::move(clock)) {}

  ~LimitedEngine() override {
    std::deque<Pending> queued;
    {
      std::lock_guard lock(mu_);
      queued.swap(chain_);
      std::move(wide_.begin(), wide_.end(), std::back_inserter(queued));
      wide_.clear();
    }
    for (Pending& pending : queued) {
      deliver(pending.done,
              Outcome{std::make_exception_ptr(EngineError(
                          EngineErrorKind::kCancelled,
                          "the rate-limited engine was destroyed while this request waited in "
                          "its queue; keep the engine alive until every request completes")),
                      {}});
    }
  }

  EngineInfo info() const override { return inner_->info(); }

  void submit(Request request, std::function<void(Outcome)> done) override {
    {
      std::lock_guard lock(mu_);
      auto& queue = request.phase == Phase::kEvaluation ? wide_ : chain_;
      queue.push_back({std::move(request), std::move(done)});
    }
    pump();
  }

 private:
  struct Pending {
    Request request;
    std::function<void(Outcome)> done;
  };
  struct Sent {
    TimePoint at;
    std::int64_t tokens;
  };

  void pump() {
    {
      std::lock_guard lock(mu_);
      if (pumping_) return;
      pumping_ = true;
    }
    while (true) {
      std::vector<Pending> ready;
      std::optional<TimePoint> wake;
      {
        std::lock_guard lock(mu_);
        wake = take_ready(ready);
        // Nothing can start: stop pumping in the same critical section that looked, so a
        // submit or completion after it pumps itself.
        if (ready.empty()) pumping_ = false;
      }
      if (wake) schedule_wake(*wake);
      if (ready.empty()) return;
      for (Pending& pending : ready) start(std::move(pending));
    }
  }

  // Moves the calls that fit the limits now from the queue to `ready`. Returns when to look
  // again if the head of the queue waits for the rate window and no wake-up is scheduled.
  std::optional<TimePoint> take_ready(std::vector<Pending>& ready) {
    const TimePoint now = clock_->now();
    while (!window_.empty() && now - window_.front().at >= kWindow) {
      window_tokens_ -= window_.front().tokens;
      window_.pop_front();
    }
    while (!chain_.empty() || !wide_.empty()) {
      std::deque<Pending>& queue = chain_.empty() ? wide_ : chain_;  // Note [Chain calls first]
      if (limits_.max_in_flight > 0 && in_flight_ >= limits_.max_in_flight) return std::nullopt;
      const std::int64_t tokens = estimate_prompt_tokens(queue.front().request);
      const bool rpm_full = limits_.requests_per_minute > 0 &&
                            static_cast<double>(window_.size()) >= limits_.requests_per_minute;
      const bool tpm_full =
          limits_.tokens_per_minute > 0 && !window_.empty() &&
          static_cast<double>(window_tokens_ + tokens) > limits_.tokens_per_minute;
      if (rpm_full || tpm_full) {
        if (wake_scheduled_) return std::nullopt;
        wake_scheduled_ = true;
        return window_.front().at + kWindow;
      }
      window_.push_back({now, tokens});
      window_tokens_ += tokens;
      ++in_flight_;
      ready.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    return std::nullopt;
  }

  void schedule_wake(TimePoint when) {
    std::weak_ptr<LimitedEngine> weak = weak_from_this();
    clock_->wake_at(when, [weak] {
      if (auto self = weak.lock()) {
        {
          std::lock_guard lock(self->mu_);
          self->wake_scheduled_ = false;
        }
        self->pump();
      }
    });
  }

  // Never throws: an inner engine that throws instead of calling back fails just this call.
  void start(Pending pending) noexcept {
    std::weak_ptr<LimitedEngine> weak = weak_from_this();
    auto done = std::make_shared<std::function<void(Outcome)>>(std::move(pending.done));
    auto completed = std::make_shared<std::atomic<bool>>(false);
    try {
      inner_->submit(std::move(pending.request), [weak, done, completed](Outcome outcome) {
        if (completed->exchange(true)) return;
        if (auto self = weak.lock()) self->finished();
        deliver(*done, std::move(outcome));
      });
    } catch (...) {
      if (completed->exchange(true)) return;  // it called back, then threw
      {
        std::lock_guard lock(mu_);
        --in_flight_;  // the pump we are in takes the freed slot on its next round
      }
      deliver(*done, Outcome{std::current_exception(), {}});
    }
  }

  void finished() {
    {
      std::lock_guard lock(mu_);
      --in_flight_;
    }
    pump();
  }

  EnginePtr inner_;
  const RateLimits limits_;
  const std::shared_ptr<Clock> clock_;
  std::mutex mu_;
  std::deque<Pending> chain_;  // every phase but kEvaluation
  std::deque<Pending> wide_;   // kEvaluation
  std::deque<Sent> window_;
  std::int64_t window_tokens_ = 0;
  int in_flight_ = 0;
  bool pumping_ = false;
  bool wake_scheduled_ = false;
};

}  // namespace

std::shared_ptr<Clock> system_clock() {
  static const std::shared_ptr<Clock> clock = std::make_shared<SystemClock>();
  return clock;
}

EnginePtr with_limits(EnginePtr inner, RateLimits limits, std::shared_ptr<Clock> clock) {
  if (!inner) throw InvalidArgument("with_limits needs an engine to wrap");
  if (limits.max_in_flight < 0 || limits.requests_per_minute < 0 || limits.tokens_per_minute < 0) {
    throw InvalidArgument("rate limits must be zero (unlimited) or positive");
  }
  return std::make_shared<LimitedEngine>(std::move(inner), limits,
                                         clock ? std::move(clock) : system_clock());
}

}  // namespace tg
