// The one HTTP client of textgrad-cpp: a libcurl multi handle driven by a single I/O thread.
//
// Many requests are in flight at once without a thread per request; connections are kept
// alive and HTTP/2 streams are multiplexed where the server offers it. TLS is always
// verified. Nothing else in the project opens sockets.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "http/http.h"
#include "textgrad/errors.h"

namespace tg::http {

struct TransportOptions {
  // HTTP/1.1 needs one connection per in-flight request, so the cap must be at least the
  // concurrency wanted against one host; requests beyond it wait inside libcurl (their total
  // timeout keeps running while they wait).
  long max_host_connections = 512;
  std::string user_agent = "textgrad-cpp/0.1";
};

// Why a request produced no HTTP response.
struct TransportError {
  EngineErrorKind kind = EngineErrorKind::kConnection;  // kConnection, kTimeout, kCancelled...
  std::string message;
  // False when repeating the request cannot help (TLS verification failed, malformed URL).
  bool retryable = true;
};

struct TransportResult {
  HttpResponse response;                // meaningful when !error (any status, 2xx or not)
  std::optional<TransportError> error;  // set when no complete response arrived
  bool ok() const { return !error.has_value(); }
};

// Called exactly once per send(), normally on the I/O thread. Keep it short and never wait in
// it for another request on the same transport (that would deadlock the I/O thread); send
// further requests instead. Exceptions thrown by it are swallowed.
using TransportCallback = std::function<void(TransportResult)>;

class Transport {
 public:
  explicit Transport(TransportOptions options = {});
  // Requests still queued or in flight complete with kCancelled before this returns (or, when
  // called on the I/O thread itself, right after the current callback returns).
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Queues the request and returns at once. `delay` postpones the start (retry backoff)
  // without occupying any thread. When nothing is in flight and the I/O thread is idle, the
  // calling thread starts the request itself rather than waking it (it never waits for the I/O
  // thread; `done` still runs there). After shutdown began, `done` runs inline with kCancelled.
  void send(HttpRequest request, TransportCallback done,
            std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  // The same for a request the caller keeps (retries send it again without copying it).
  void send(std::shared_ptr<const HttpRequest> request, TransportCallback done,
            std::chrono::milliseconds delay = std::chrono::milliseconds(0));

  // Requests accepted and not yet completed, including delayed ones.
  std::size_t pending() const;

  struct Impl;

 private:
  // Shared with the I/O thread so the thread can finish cancelling even when the Transport
  // is destroyed from one of its own callbacks.
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace tg::http
