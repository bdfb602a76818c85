#include "support/redis_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace tg::testing {

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    throw std::runtime_error("no free port on 127.0.0.1");
  }
  close(fd);
  return ntohs(address.sin_port);
}

std::string RedisServer::program() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::filesystem::path candidate = std::filesystem::path(dir) / "redis-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

RedisServer::RedisServer() {
  const std::string binary = program();
  if (binary.empty()) throw std::runtime_error("redis-server is not installed");
  const std::string notify_path = dir_.file("notify.sock");
  int notify = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, notify_path.c_str(), sizeof(address.sun_path) - 1);
  if (bind(notify, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(notify);
    throw std::runtime_error("cannot bind " + notify_path);
  }
  // Bounds a failed start-up only; a healthy server answers in milliseconds.
  timeval limit{30, 0};
  setsockopt(notify, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  port_ = free_port();
  process_ = std::make_unique<Process>(
      std::vector<std::string>{binary, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                               "--dir", dir_.path(), "--save", "", "--appendonly", "no",
                               "--supervised", "systemd", "--loglevel", "warning"},
      std::map<std::string, std::string>{{"NOTIFY_SOCKET", notify_path}});
  char buffer[512];
  bool ready = false;
  for (;;) {
    ssize_t n = recv(notify, buffer, sizeof(buffer) - 1, 0);
    if (n <= 0) break;
    buffer[n] = 0;
    if (std::strstr(buffer, "READY=1")) {
      ready = true;
      break;
    }
  }
  close(notify);
  if (!ready) {
    process_->kill_now();
    ProcessResult result = process_->wait();
    throw std::runtime_error("redis-server did not start: " + result.out + result.err);
  }
}

RedisServer::~RedisServer() { kill_now(); }

void RedisServer::kill_now() {
  if (!process_) return;
  process_->kill_now();
  process_->wait();
  process_.reset();
}

std::string RedisServer::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

}  // namespace tg::testing
