// Exceptions thrown by textgrad-cpp.
//
// Every error says what went wrong and what to do about it. None ever contains an API key.
#pragma once

#include <stdexcept>
#include <string>

#include "textgrad/engine.h"

namespace tg {

// Base of every exception the library throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed something the API cannot accept (missing role, bad template, ...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// An LLM answer did not have the expected shape (missing tags, unparsable number, ...).
class ParseError : public Error {
 public:
  using Error::Error;
};

// What went wrong with an LLM request. Transient kinds are retried by the HTTP engines;
// the others are reported at once.
enum class EngineErrorKind {
  kConnection,      // could not connect, connection dropped
  kTimeout,         // no complete answer in time
  kRateLimited,     // 429 and friends
  kServer,          // 5xx, overloaded
  kBadRequest,      // 400, 404, 422: the request is wrong
  kAuthentication,  // 401, 403, bad or missing key
  kContextLength,   // prompt longer than the model accepts
  kRefusal,         // the model refused or a safety filter removed the answer
  kTruncated,       // the answer hit the output token limit
  kEmptyAnswer,     // the answer had no text
  kMalformed,       // the body was not the provider's documented format
  kUnsupported,     // e.g. images sent to a text-only model
  kOffline,         // replay mode and the cache has no answer
  kBudget,          // a token or dollar budget would be exceeded
  kCancelled,
};

const char* to_string(EngineErrorKind kind);

// True for kinds worth retrying with backoff.
bool is_transient(EngineErrorKind kind);

class EngineError : public Error {
 public:
  EngineError(EngineErrorKind kind, const std::string& message, int http_status = 0,
              Usage billed = {})
      : Error(message), kind_(kind), http_status_(http_status), billed_(billed) {}
  EngineErrorKind kind() const { return kind_; }
  int http_status() const { return http_status_; }
  bool transient() const { return is_transient(kind_); }
  // Tokens the provider billed for the failed answer: an answer refused for length, by a
  // content filter or safety, or with no text still costs its tokens. Zero when none.
  const Usage& billed() const { return billed_; }

 private:
  EngineErrorKind kind_;
  int http_status_;
  Usage billed_;
};

// backward() failed at one node; the message names the node. The original error is nested
// (std::rethrow_if_nested) so callers can inspect its type.
class BackwardError : public Error {
 public:
  using Error::Error;
};

}  // namespace tg
