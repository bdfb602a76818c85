// ScriptedEngine: an Engine whose answers come from a C++ function, for tests, examples and
// dry runs. It records every request, counts calls in flight, and can delay its answers
// (without holding a thread per call) to imitate a remote model.
//
// Thread-safe. Teardown: answers still delayed when the engine is destroyed are delivered at
// once as EngineErrorKind::kCancelled errors (a Variable waiting on one never hangs); the
// destructor waits for a delivery already running. Callbacks must not destroy the engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "textgrad/engine.h"

namespace tg {

namespace detail {
class Timer;
}

class ScriptedEngine : public Engine {
 public:
  // Returns the answer text for a request; may throw to simulate a failure.
  using Responder = std::function<std::string(const Request&)>;

  struct Options {
    std::string name = "scripted";
    std::chrono::milliseconds delay{0};  // each answer arrives this long after submit()
    bool accepts_images = true;
  };

  explicit ScriptedEngine(Responder responder);
  ScriptedEngine(Responder responder, Options options);
  ~ScriptedEngine() override;

  // Answers with the user text itself.
  static std::shared_ptr<ScriptedEngine> echo();
  static std::shared_ptr<ScriptedEngine> echo(Options options);

  EngineInfo info() const override;
  void submit(Request request, std::function<void(Outcome)> done) override;

  // Every request so far, in submission order.
  std::vector<Request> requests() const;
  int calls() const;
  int peak_in_flight() const;
  Usage usage() const;
  void reset();

 private:
  struct Delayed {
    Outcome outcome;
    std::function<void(Outcome)> done;
  };

  Outcome answer(const Request& request) const;
  void finish(Outcome outcome, const std::function<void(Outcome)>& done);
  void deliver_delayed(std::uint64_t id);

  Responder responder_;
  Options options_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  int in_flight_ = 0;
  int peak_in_flight_ = 0;
  Usage usage_;
  std::map<std::uint64_t, Delayed> delayed_;  // answers waiting for their delay, by id
  std::uint64_t next_delayed_ = 0;
  std::unique_ptr<detail::Timer> timer_;
};

}  // namespace tg
