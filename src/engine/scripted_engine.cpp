#include "textgrad/scripted_engine.h"

#include <algorithm>

#include "textgrad/errors.h"
#include "util/timer.h"

namespace tg {
namespace {

// A rough token count (4 characters a token) so cost accounting has something to add up.
std::int64_t rough_tokens(size_t chars) { return static_cast<std::int64_t>((chars + 3) / 4); }

}  // namespace

ScriptedEngine::ScriptedEngine(Responder responder)
    : ScriptedEngine(std::move(responder), Options{}) {}

ScriptedEngine::ScriptedEngine(Responder responder, Options options)
    : responder_(std::move(responder)), options_(std::move(options)) {
  if (!responder_) throw InvalidArgument("ScriptedEngine needs a responder function");
  if (options_.delay.count() > 0) timer_ = std::make_unique<detail::Timer>();
}

ScriptedEngine::~ScriptedEngine() {
  // Stops the timer first (waiting for a delivery in progress), so nothing else touches
  // delayed_ while the rest fails.
  timer_.reset();
  std::map<std::uint64_t, Delayed> cancelled;
  {
    std::lock_guard lock(mu_);
    cancelled.swap(delayed_);
  }
  for (auto& [id, delayed] : cancelled) {
    try {
      finish(Outcome{std::make_exception_ptr(EngineError(
                         EngineErrorKind::kCancelled,
                         options_.name + " was destroyed before its delayed answer was due")),
                     {}},
             delayed.done);
    } catch (...) {
      // A destructor must not throw; the other callers still get their answer.
    }
  }
}

std::shared_ptr<ScriptedEngine> ScriptedEngine::echo() { return echo(Options{}); }

std::shared_ptr<ScriptedEngine> ScriptedEngine::echo(Options options) {
  return std::make_shared<ScriptedEngine>([](const Request& r) { return r.user_text(); },
                                          std::move(options));
}

EngineInfo ScriptedEngine::info() const {
  EngineInfo info;
  info.name = options_.name;
  info.provider = "scripted";
  info.model = options_.name;
  info.wire_format = "scripted";
  info.accepts_images = options_.accepts_images;
  return info;
}

Outcome ScriptedEngine::answer(const Request& request) const {
  Outcome outcome;
  try {
    if (request.has_images() && !options_.accepts_images) {
      throw EngineError(EngineErrorKind::kUnsupported,
                        options_.name + " does not accept images; use a multimodal engine");
    }
    outcome.response.text = responder_(request);
    outcome.response.model = options_.name;
    outcome.response.finish_reason = "stop";
    size_t prompt_chars = request.system_prompt.size() + request.user_text().size();
    outcome.response.usage.input_tokens = rough_tokens(prompt_chars);
    outcome.response.usage.output_tokens = rough_tokens(outcome.response.text.size());
  } catch (...) {
    outcome.error = std::current_exception();
  }
  return outcome;
}

void ScriptedEngine::finish(Outcome outcome, const std::function<void(Outcome)>& done) {
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    if (outcome.ok()) usage_ += outcome.response.usage;
  }
  done(std::move(outcome));
}

void ScriptedEngine::submit(Request request, std::function<void(Outcome)> done) {
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    peak_in_flight_ = std::max(peak_in_flight_, ++in_flight_);
  }
  if (!timer_) {
    finish(answer(request), done);
    return;
  }
  // Answer now, deliver later: the delay imitates network latency without a thread per call.
  Delayed delayed{answer(request), std::move(done)};
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    id = next_delayed_++;
    delayed_.emplace(id, std::move(delayed));
  }
  timer_->schedule(detail::Timer::Clock::now() + options_.delay,
                   [this, id] { deliver_delayed(id); });
}

void ScriptedEngine::deliver_delayed(std::uint64_t id) {
  Delayed delayed;
  {
    std::lock_guard lock(mu_);
    auto it = delayed_.find(id);
    if (it == delayed_.end()) return;
    delayed = std::move(it->second);
    delayed_.erase(it);
  }
  finish(std::move(delayed.outcome), delayed.done);
}

std::vector<Request> ScriptedEngine::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int ScriptedEngine::calls() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(requests_.size());
}

int ScriptedEngine::peak_in_flight() const {
  std::lock_guard lock(mu_);
  return peak_in_flight_;
}

Usage ScriptedEngine::usage() const {
  std::lock_guard lock(mu_);
  return usage_;
}

void ScriptedEngine::reset() {
  std::lock_guard lock(mu_);
  requests_.clear();
  peak_in_flight_ = in_flight_;
  usage_ = {};
}

}  // namespace tg
