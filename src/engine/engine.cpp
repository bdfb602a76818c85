#include "textgrad/engine.h"

#include <future>

#include "textgrad/errors.h"

namespace tg {

const char* to_string(Phase phase) {
  switch (phase) {
    case Phase::kForward:
      return "forward";
    case Phase::kLoss:
      return "loss";
    case Phase::kBackward:
      return "backward";
    case Phase::kReduce:
      return "reduce";
    case Phase::kUpdate:
      return "update";
    case Phase::kEvaluation:
      return "evaluation";
    case Phase::kOther:
      return "other";
  }
  return "other";
}

Request Request::Text(std::string user, std::string system, Phase phase) {
  Request request;
  request.system_prompt = std::move(system);
  request.content.push_back(ContentPart::Text(std::move(user)));
  request.phase = phase;
  return request;
}

std::string Request::user_text() const {
  std::string joined;
  for (const ContentPart& part : content) {
    if (part.is_image()) continue;
    if (!joined.empty()) joined += "\n\n";
    joined += part.text;
  }
  return joined;
}

bool Request::has_images() const {
  for (const ContentPart& part : content) {
    if (part.is_image()) return true;
  }
  return false;
}

Usage& Usage::operator+=(const Usage& other) {
  input_tokens += other.input_tokens;
  output_tokens += other.output_tokens;
  cached_input_tokens += other.cached_input_tokens;
  return *this;
}

Response Engine::generate(Request request) {
  std::promise<Outcome> promise;
  std::future<Outcome> future = promise.get_future();
  submit(std::move(request),
         [&promise](Outcome outcome) { promise.set_value(std::move(outcome)); });
  Outcome outcome = future.get();
  if (outcome.error) std::rethrow_exception(outcome.error);
  return std::move(outcome.response);
}

Response Engine::generate(std::string user, std::string system) {
  return generate(Request::Text(std::move(user), std::move(system)));
}

}  // namespace tg
