#include "support/sandbox_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace tg::testing {

SandboxLock::SandboxLock(Mode mode) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "textgrad-tests-sandbox.lock").string();
  // O_CLOEXEC: a sandboxed process must not inherit, and so outlive us holding, the lock.
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path);
  const int operation = mode == Mode::kAlone ? LOCK_EX : LOCK_SH;
  while (::flock(fd_, operation) != 0) {
    if (errno != EINTR) {
      ::close(fd_);
      throw std::runtime_error("cannot lock " + path);
    }
  }
}

SandboxLock::~SandboxLock() { ::close(fd_); }

}  // namespace tg::testing
