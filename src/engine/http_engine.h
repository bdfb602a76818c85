// The Engine behind every provider: encode with a Codec, send on the shared Transport,
// decode, retry transient failures on a timer, account usage.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/providers/codec.h"
#include "engine/retry.h"
#include "http/transport.h"
#include "textgrad/engine.h"
#include "textgrad/engines.h"
#include "textgrad/limits.h"

namespace tg::engine {

struct HttpEngineOptions {
  std::string name;  // shown in info() and prefixed to error messages
  SamplingParams sampling;
  RetryOptions retry;
  double timeout_s = 600;
  double connect_timeout_s = 10;
  std::optional<bool> accepts_images;  // nullopt: known_image_support(model)
  // Sampling parameters the model rejects are left out of every request.
  ModelCapabilities capabilities;
  std::size_t max_answer_bytes = 2u << 20;  // EngineOptions::max_answer_bytes
  // Waits between attempts; nullptr: the transport's own timer.
  std::shared_ptr<Clock> clock;
};

// false for model families known to be text-only; nullopt when unknown (images are sent and
// the provider decides). Deliberately not an allow-list of vision models: those go stale.
std::optional<bool> known_image_support(std::string_view model);

// Thread-safe. Completion callbacks run on the transport's I/O thread (or inline in submit()
// when the request fails before being sent): they must not wait for another request.
class HttpEngine final : public Engine {
 public:
  HttpEngine(providers::ProviderConfig config, std::unique_ptr<providers::Codec> codec,
             std::shared_ptr<http::Transport> transport, HttpEngineOptions options);
  // Requests in flight keep what they need alive; if this engine held the last reference
  // to its transport, they complete with kCancelled.
  ~HttpEngine() override;

  EngineInfo info() const override;
  void submit(Request request, std::function<void(Outcome)> done) override;
  EngineStats stats() const;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
  // The only owning reference held on behalf of this engine: requests hold a weak one, so
  // dropping the engine can shut an unshared transport down.
  std::shared_ptr<http::Transport> transport_;
};

// A resolved engine name: which codec, where, with which key. Exposed for tests.
struct EngineSpec {
  std::string name;  // canonical "provider/model"
  providers::ProviderConfig config;
  std::optional<bool> accepts_images;
  ModelCapabilities capabilities;
};

// Implemented in registry.cpp. Throws InvalidArgument like make_engine.
EngineSpec resolve_engine_spec(std::string_view name, const EngineOptions& options);

}  // namespace tg::engine
