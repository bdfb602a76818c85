// Note [Sandbox tests and the process limit]
// A sandbox's process limit is RLIMIT_NPROC of the user it runs as, which every sandbox running
// at the same time shares (Note [Process limit] in src/code/sandbox.cpp). ctest runs tests in
// parallel, so the fork-loop test, which forks until that limit stops it, could starve a sandbox
// in another test process: a TSan run saw g++ fail to start beside it. Every test that runs
// sandboxes holds this lock shared; the fork loop holds it alone. The lock is an flock() on a
// file in the temporary directory, so it orders test processes, not just threads.
#pragma once

namespace tg::testing {

class SandboxLock {
 public:
  enum class Mode { kShared, kAlone };
  // Blocks until granted; released by the destructor.
  explicit SandboxLock(Mode mode = Mode::kShared);
  ~SandboxLock();
  SandboxLock(const SandboxLock&) = delete;
  SandboxLock& operator=(const SandboxLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace tg::testing
