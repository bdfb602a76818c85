// Note [Pumping the queue]
// Completions and submissions both try to start queued calls. Only one thread pumps at a
// time; others leave a note (repump_) and return, so a synchronous inner engine cannot recurse
// without bound and no wake-up is lost. Calls are started outside the lock because the inner
// engine may complete them on the spot.
#include <deque>
#include <mutex>

#include <thread>
#include "textgrad/errors.h"
#include "textgrad/limits.h"

namespace tg {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t estimate_prompt_tokens(const Request& request) {
  size_t chars = request.system_prompt.size();
  for (const ContentPart& part : request.content) {
    chars += part.is_image() ? 4000 : part.text.size();  // an image costs roughly 1k tokens
  }
  return static_cast<std::int64_t>(chars / 4 + 1);
}

class LimitedEngine : public Engine, public std::enable_shared_from_this<LimitedEngine> {
 public:
  LimitedEngine(EnginePtr inner, RateLimits limits) : inner_(std::move(inner)), limits_(limits) {}

  EngineInfo info() const override { return inner_->info(); }

  void submit(Request request, std::function<void(Outcome)> done) override {
    {
      std::lock_guard lock(mu_);
      queue_.push_back({std::move(request), std::move(done)});
    }
    pump();
  }

 private:
  struct Pending {
    Request request;
    std::function<void(Outcome)> done;
  };
  struct Sent {
    Clock::time_point at;
    std::int64_t tokens;
  };

  void pump() {
    {
      std::lock_guard lock(mu_);
      if (pumping_) {
        repump_ = true;
        return;
      }
      pumping_ = true;
    }
    while (true) {
      std::vector<Pending> ready;
      {
        std::lock_guard lock(mu_);
        repump_ = false;
        take_ready(ready);
        if (ready.empty()) {
          if (repump_) continue;
          pumping_ = false;
          return;
        }
      }
      for (Pending& p : ready) start(std::move(p));
    }
  }

  // Moves the calls that fit the limits now from the queue to `ready`; schedules a wake-up
  // when the head of the queue waits for the rate window.
  void take_ready(std::vector<Pending>& ready) {
    const Clock::time_point now = Clock::now();
    while (!window_.empty() && now - window_.front().at >= std::chrono::minutes(1)) {
      window_tokens_ -= window_.front().tokens;
      window_.pop_front();
    }
    while (!queue_.empty()) {
      if (limits_.max_in_flight > 0 && in_flight_ >= limits_.max_in_flight) return;
      const std::int64_t tokens = estimate_prompt_tokens(queue_.front().request);
      const bool rpm_full = limits_.requests_per_minute > 0 &&
                            static_cast<double>(window_.size()) >= limits_.requests_per_minute;
      const bool tpm_full =
          limits_.tokens_per_minute > 0 && !window_.empty() &&
          static_cast<double>(window_tokens_ + tokens) > limits_.tokens_per_minute;
      if (rpm_full || tpm_full) {
        wake_at(window_.front().at + std::chrono::minutes(1));
        return;
      }
      window_.push_back({now, tokens});
      window_tokens_ += tokens;
      ++in_flight_;
      ready.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }

  void wake_at(Clock::time_point when) {
    if (wake_scheduled_) return;
    wake_scheduled_ = true;
    // A detached sleeper rather than an owned timer thread: it may end up holding the last
    // reference, and an engine must not join its own thread in its destructor.
    std::weak_ptr<LimitedEngine> weak = weak_from_this();
    std::thread([weak, when] {
      std::this_thread::sleep_until(when);
      if (auto self = weak.lock()) {
        {
          std::lock_guard lock(self->mu_);
          self->wake_scheduled_ = false;
        }
        self->pump();
      }
    }).detach();
  }

  void start(Pending pending) {
    std::weak_ptr<LimitedEngine> weak = weak_from_this();
    inner_->submit(std::move(pending.request),
                   [weak, done = std::move(pending.done)](Outcome outcome) {
                     if (auto self = weak.lock()) self->finished();
                     done(std::move(outcome));
                   });
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
  std::mutex mu_;
  std::deque<Pending> queue_;
  std::deque<Sent> window_;
  std::int64_t window_tokens_ = 0;
  int in_flight_ = 0;
  bool pumping_ = false;
  bool repump_ = false;
  bool wake_scheduled_ = false;
};

}  // namespace

EnginePtr with_limits(EnginePtr inner, RateLimits limits) {
  if (!inner) throw InvalidArgument("with_limits needs an engine to wrap");
  if (limits.max_in_flight < 0 || limits.requests_per_minute < 0 || limits.tokens_per_minute < 0) {
    throw InvalidArgument("rate limits must be zero (unlimited) or positive");
  }
  return std::make_shared<LimitedEngine>(std::move(inner), limits);
}

}  // namespace tg
