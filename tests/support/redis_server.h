// A private redis-server for tests and benchmarks: 127.0.0.1, a free port, a temporary
// directory, no persistence. Start-up is awaited through systemd's readiness protocol
// (redis-server --supervised systemd sends READY=1 to NOTIFY_SOCKET), so nothing sleeps.
#pragma once

#include <memory>
#include <string>

#include "support/process.h"

namespace tg::testing {

class RedisServer {
 public:
  // The redis-server program on PATH, or empty when it is not installed.
  static std::string program();
  // Throws std::runtime_error (with redis-server's output) if it does not come up.
  RedisServer();
  ~RedisServer();  // kills the server

  int port() const { return port_; }
  std::string url(int db = 0) const;  // redis://127.0.0.1:<port>/<db>
  void kill_now();

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// A TCP port that was free a moment ago.
int free_port();

}  // namespace tg::testing
