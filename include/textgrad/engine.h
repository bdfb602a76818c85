// The Engine interface: every LLM call in textgrad-cpp goes through it.
//
// A request is one system prompt plus one user turn (text and image parts) plus sampling
// parameters; an answer is text plus token usage. Engines are passed in explicitly
// (std::shared_ptr<Engine>); there is no global engine.
//
// Thread safety: every Engine implementation must be safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tg {

// One part of the user turn: text, or an image given by its bytes and media type.
struct ContentPart {
  enum class Kind { kText, kImage };
  Kind kind = Kind::kText;
  std::string text;        // kText
  std::string media_type;  // kImage: image/png, image/jpeg, image/gif or image/webp
  std::string data;        // kImage: the raw (not base64) bytes

  static ContentPart Text(std::string text) { return {Kind::kText, std::move(text), {}, {}}; }
  static ContentPart Image(std::string media_type, std::string bytes) {
    return {Kind::kImage, {}, std::move(media_type), std::move(bytes)};
  }
  bool is_image() const { return kind == Kind::kImage; }
  bool operator==(const ContentPart&) const = default;
};

// Sampling parameters. Unset optionals are not sent. Defaults are the reference's.
struct SamplingParams {
  std::optional<double> temperature = 0.0;
  std::optional<int> max_tokens = 2000;
  std::optional<double> top_p = 0.99;
  std::optional<std::int64_t> seed;
  std::vector<std::string> stop;
  // Structured output: a JSON Schema (as JSON text) the answer must follow; empty = none.
  std::string json_schema;
  std::string json_schema_name = "answer";
  bool operator==(const SamplingParams&) const = default;
};

// Which part of an optimization a call belongs to; used for accounting only.
enum class Phase { kForward, kLoss, kBackward, kReduce, kUpdate, kEvaluation, kOther };
const char* to_string(Phase phase);

struct Request {
  std::string system_prompt;  // empty = no system prompt
  std::vector<ContentPart> content;
  // Unset = the engine's configured defaults.
  std::optional<SamplingParams> sampling;
  Phase phase = Phase::kOther;
  // Distinguishes deliberate repeats of an identical request (e.g. several samples);
  // part of the cache key.
  int sample_index = 0;

  static Request Text(std::string user, std::string system = {}, Phase phase = Phase::kOther);
  // The user turn's text parts joined by blank lines; images are skipped.
  std::string user_text() const;
  bool has_images() const;
};

struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cached_input_tokens = 0;  // part of input_tokens served from a provider cache
  Usage& operator+=(const Usage& other);
  bool operator==(const Usage&) const = default;
};

struct Response {
  std::string text;
  Usage usage;
  std::string finish_reason;  // as the provider said it: "stop", "length", "end_turn", ...
  std::string model;          // the model that answered, if reported
  bool from_cache = false;
  double latency_ms = 0;
};

// The outcome of an asynchronous request: exactly one of `error` and `response` is meaningful.
struct Outcome {
  std::exception_ptr error;
  Response response;
  bool ok() const { return !error; }
};

struct EngineInfo {
  std::string name;  // e.g. "openai/gpt-4o" or "scripted"
  // Who serves the model: "openai", "azure", "anthropic", "gemini", "ollama", "vllm",
  // "lmstudio", "llamacpp", "groq", "together", "openrouter", "deepseek", "scripted", ...
  // Prices are looked up by it, and it is part of cache keys.
  std::string provider;
  std::string model;
  // nullopt: unknown (images are sent and the provider decides).
  std::optional<bool> accepts_images;
  // What a request without its own sampling parameters is sent with (part of cache keys).
  SamplingParams default_sampling;
  // The API the requests are written in: "openai" (Chat Completions, spoken by most servers),
  // "azure", "anthropic", "gemini"; "scripted" for in-process engines.
  std::string wire_format;
  // Where requests go: the base URL without user info, query or fragment, plus the deployment
  // for Azure. Never a key. Part of cache keys, so two servers never share answers.
  std::string endpoint;
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual EngineInfo info() const = 0;

  // Starts the request and returns without waiting. `done` is called exactly once, on any
  // thread (possibly this one, before submit returns), with the answer or the error.
  // Implementations must not block in submit(): queued requests wait inside the engine.
  //
  // Callbacks must not block. `done` usually runs on the HTTP transport's one I/O thread,
  // which serves every request in flight: while a callback runs, no other answer is read and
  // no request is sent. A callback may copy or record the outcome, take a lock held only
  // briefly, submit further requests (to any engine: they start once it returns), post work
  // to another thread, or wake a thread that waits. It must not wait for another answer
  // (generate(), a future or Variable::wait() of another call: that deadlocks the I/O
  // thread), sleep, or write files, databases or sockets: queue such work for a thread of
  // its own. Engines that wrap others keep the rule in their completion paths, and a submit()
  // that may block (the response cache's file lookup) hands its work to another thread when
  // it is called from a callback on the I/O thread.
  virtual void submit(Request request, std::function<void(Outcome)> done) = 0;

  // Blocking convenience over submit(); rethrows the engine's error.
  Response generate(Request request);
  Response generate(std::string user, std::string system = {});

  std::string name() const { return info().name; }
};

using EnginePtr = std::shared_ptr<Engine>;

}  // namespace tg
