// Sandbox: one shell command, isolated by bubblewrap, limited by rlimits and a wall clock.
//
// Note [Sandbox layers]
// bubblewrap gives the isolation (namespaces, a read-only system, a private tmpfs); rlimits set
// in the forked child before exec give the per-process limits; our own poll loop gives the
// wall-clock limit and the output cap, and kills the whole tree (bwrap's PID namespace dies
// with its init). RLIMIT_NPROC is not enforced for root, so a run started by root drops to
// `nobody` first (see Note [Process limit]).
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "code/capture.h"
#include "textgrad/code.h"

namespace tg {
namespace fs = std::filesystem;
namespace {

constexpr uid_t kNobody = 65534;
constexpr int kExecFailed = 127;
constexpr std::chrono::seconds kGrace{5};
// Inside the sandbox: copy the read-only test files into the writable tmpfs, then run the
// command (passed as $1, so it is never re-quoted).
constexpr const char* kCopyThenRun = "cp -R /src/. /work/ && exec /bin/sh -c \"$1\"";

// Note [Process limit]
// RLIMIT_NPROC counts every process of the real user id, not just the sandbox's. We count the
// ones that user has now and allow `max_processes` more. Concurrent runs share that user, so a
// fork bomb in one run may make a concurrent run's fork fail; it never reaches other users.
long processes_of(uid_t uid) {
  long count = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream status(entry.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        count += std::strtoul(line.c_str() + 4, nullptr, 10) == uid;
        break;
      }
    }
  }
  return count;
}

// argv/envp as the child needs them: built before fork, since the child may not allocate.
struct ExecSpec {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string chdir;
  std::vector<char*> argv() {
    std::vector<char*> out;
    for (auto& a : args) out.push_back(a.data());
    out.push_back(nullptr);
    return out;
  }
  std::vector<char*> envp() {
    std::vector<char*> out;
    for (auto& e : env) out.push_back(e.data());
    out.push_back(nullptr);
    return out;
  }
};

std::vector<std::string> sandbox_env(const std::string& home) {
  return {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "USER=sandbox", "LOGNAME=sandbox",
          "LANG=C.UTF-8", "TMPDIR=/tmp", "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0",
          // Per-test results for pytest (-rA), no cache directory, no colour codes.
          "PYTEST_ADDOPTS=-rA -p no:cacheprovider --color=no"};
}

std::string bytes_of_mb(int mb) { return std::to_string(static_cast<long long>(mb) << 20); }

// The bwrap command line: see Note [Sandbox layers] and docs/code.md.
std::vector<std::string> bwrap_args(const SandboxOptions& o, const fs::path& source) {
  std::vector<std::string> a = {o.bwrap,         "--unshare-all", "--die-with-parent",
                                "--new-session", "--hostname",    "sandbox",
                                "--ro-bind",     "/usr",          "/usr"};
  for (const char* dir : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    std::error_code error;
    if (fs::is_symlink(dir, error)) {
      a.insert(a.end(), {"--symlink", fs::read_symlink(dir, error).string(), dir});
    } else if (fs::exists(dir, error)) {
      a.insert(a.end(), {"--ro-bind", dir, dir});
    }
  }
  for (const char* file :
       {"/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
        "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf"}) {
    a.insert(a.end(), {"--ro-bind-try", file, file});
  }
  const std::string size = bytes_of_mb(o.limits.workspace_mb);
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev"});
  a.insert(a.end(), {"--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/work"});
  a.insert(a.end(), {"--ro-bind", source.string(), "/src", "--remount-ro", "/"});
  a.insert(a.end(), {"--chdir", "/work", "--", "/bin/sh", "-c", kCopyThenRun, "textgrad-sandbox"});
  return a;
}

struct Fds {
  int fd[2] = {-1, -1};
  ~Fds() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

void make_pipe(Fds& p) {
  if (::pipe2(p.fd, O_CLOEXEC) != 0) throw Error(fmt::format("pipe: {}", std::strerror(errno)));
}

void set_limit(int resource, rlim_t soft, rlim_t hard) {
  rlimit limit{soft, hard};
  ::setrlimit(resource, &limit);
}

// Tells the parent why the child could not exec (errno through the report pipe).
[[noreturn]] void report_and_exit(int report) {
  int e = errno;
  [[maybe_unused]] ssize_t n = ::write(report, &e, sizeof e);
  ::_exit(kExecFailed);
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void exec_child(const SandboxLimits& l, rlim_t nproc, bool drop_root, int in, int out,
                             int err, int report, char** argv, char** envp, const char* dir) {
  auto fail = [report] { report_and_exit(report); };
  ::setsid();
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) fail();
  // Whatever else this process has open (sockets, the cache database) stays outside.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail();
  set_limit(RLIMIT_CPU, l.cpu_seconds, l.cpu_seconds + 1);
  set_limit(RLIMIT_AS, static_cast<rlim_t>(l.memory_mb) << 20,
            static_cast<rlim_t>(l.memory_mb) << 20);
  set_limit(RLIMIT_FSIZE, static_cast<rlim_t>(l.file_size_mb) << 20,
            static_cast<rlim_t>(l.file_size_mb) << 20);
  set_limit(RLIMIT_NPROC, nproc, nproc);
  set_limit(RLIMIT_CORE, 0, 0);
  if (drop_root) {
    if (::syscall(SYS_setgroups, 0, nullptr) != 0 ||
        ::syscall(SYS_setresgid, kNobody, kNobody, kNobody) != 0 ||
        ::syscall(SYS_setresuid, kNobody, kNobody, kNobody) != 0) {
      fail();
    }
  }
  // After the credential change, which clears it: die if the thread that forked us dies.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (dir != nullptr && ::chdir(dir) != 0) fail();
  ::execve(argv[0], argv, envp);
  report_and_exit(report);
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return {};
}

class Child {
 public:
  Child(ExecSpec spec, const SandboxLimits& limits, const fs::path& stdin_file);
  ~Child();
  RunResult wait(const SandboxLimits& limits);

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  Fds out_, err_;
};

Child::Child(ExecSpec spec, const SandboxLimits& limits, const fs::path& stdin_file) {
  const bool root = ::geteuid() == 0;
  const rlim_t nproc =
      static_cast<rlim_t>(processes_of(root ? kNobody : ::getuid()) + limits.max_processes);
  int in = ::open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw Error(fmt::format("cannot open '{}' as input", stdin_file.string()));
  Fds report;
  make_pipe(out_);
  make_pipe(err_);
  make_pipe(report);
  std::vector<char*> argv = spec.argv();
  std::vector<char*> envp = spec.envp();
  const char* dir = spec.chdir.empty() ? nullptr : spec.chdir.c_str();
  pid_ = ::fork();
  if (pid_ == 0) {
    exec_child(limits, nproc, root, in, out_.fd[1], err_.fd[1], report.fd[1], argv.data(),
               envp.data(), dir);
  }
  ::close(in);
  if (pid_ < 0) throw Error(fmt::format("cannot start a process: {}", std::strerror(errno)));
  out_.close_end(1);
  err_.close_end(1);
  report.close_end(1);
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) throw Error(fmt::format("pidfd_open: {}", std::strerror(errno)));
  int child_errno = 0;
  if (::read(report.fd[0], &child_errno, sizeof child_errno) == sizeof child_errno) {
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    throw SandboxUnavailable(
        fmt::format("cannot start '{}': {}", spec.args.front(), std::strerror(child_errno)));
  }
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

RunResult Child::wait(const SandboxLimits& limits) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(limits.wall_seconds));
  code::Capture out(limits.kept_output), err(limits.kept_output);
  RunResult result;
  bool exited = false;
  // Never with pid_ <= 0: kill(-(-1)) would signal process 1.
  auto kill_tree = [&] {
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
  };
  while (out_.fd[0] >= 0 || err_.fd[0] >= 0 || !exited) {
    pollfd fds[3] = {
        {out_.fd[0], POLLIN, 0}, {err_.fd[0], POLLIN, 0}, {exited ? -1 : pidfd_, POLLIN, 0}};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 && !result.timed_out) {
      result.timed_out = true;
      kill_tree();
    }
    // Killed processes close their pipes as they die, so the loop normally ends with the
    // last of them. Only without isolation can an escaped process hold a pipe open: it is
    // not waited for beyond a grace period.
    if (exited && Clock::now() > deadline + kGrace) break;
    int ready = ::poll(fds, 3, result.timed_out ? 1000 : static_cast<int>(left.count()) + 1);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[16384];
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        (i == 0 ? out_ : err_).close_end(0);
        continue;
      }
      (i == 0 ? out : err).append(std::string_view(buffer, static_cast<size_t>(n)));
      if (out.total() + err.total() > limits.max_output && !result.output_exceeded) {
        result.output_exceeded = true;
        kill_tree();
      }
    }
    if (!exited && fds[2].revents != 0) {
      // Still a zombie, so its process group id cannot be reused yet: clear out what it left.
      kill_tree();
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      exited = true;
      if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
      // bwrap reports a command killed by signal S as exit status 128 + S.
      if (result.exit_code > 128 && result.exit_code <= 128 + 64) {
        result.signal = result.exit_code - 128;
        result.exit_code = -1;
      }
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.out_bytes = out.total();
  result.err_bytes = err.total();
  result.out = out.text();
  result.err = err.text();
  return result;
}

void give_to_nobody(const fs::path& directory) {
  std::error_code error;
  [[maybe_unused]] int rc = ::lchown(directory.c_str(), kNobody, kNobody);
  for (const auto& entry : fs::recursive_directory_iterator(directory, error)) {
    rc = ::lchown(entry.path().c_str(), kNobody, kNobody);
  }
}

void check_limits(const SandboxLimits& l) {
  if (l.wall_seconds <= 0 || l.cpu_seconds <= 0 || l.memory_mb <= 0 || l.max_processes <= 0 ||
      l.file_size_mb <= 0 || l.workspace_mb <= 0 || l.max_output == 0) {
    throw InvalidArgument(
        "sandbox limits must be positive (time, CPU, memory, processes, file and workspace "
        "sizes, output)");
  }
}

}  // namespace

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {
  check_limits(options_.limits);
  if (!options_.isolate) return;
  const std::string bwrap = find_program(options_.bwrap);
  if (bwrap.empty()) {
    throw SandboxUnavailable(
        fmt::format("the sandbox needs bubblewrap ('{}' not found): install it (apt-get install "
                    "bubblewrap), or pass --no-sandbox to run tests WITHOUT isolation",
                    options_.bwrap));
  }
  options_.bwrap = bwrap;
  std::string empty = (fs::temp_directory_path() / "textgrad-probe-XXXXXX").string();
  if (::mkdtemp(empty.data()) == nullptr) {
    throw Error(fmt::format("cannot create a temporary directory under {}",
                            fs::temp_directory_path().string()));
  }
  std::error_code error;
  fs::permissions(empty, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add,
                  error);
  RunResult probe = run("true", empty);
  fs::remove_all(empty, error);
  if (!probe.ok()) {
    throw SandboxUnavailable(fmt::format(
        "the sandbox does not work here (bubblewrap said: {}). It needs user namespaces "
        "(sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; in a "
        "container, allow unshare/clone). Nothing was run. --no-sandbox runs tests WITHOUT "
        "isolation",
        probe.err.empty() ? fmt::format("exit status {}", probe.exit_code) : probe.err));
  }
}

RunResult Sandbox::run(const std::string& command, const fs::path& directory,
                       const fs::path& stdin_file) const {
  ExecSpec spec;
  if (options_.isolate) {
    spec.args = bwrap_args(options_, fs::absolute(directory));
    spec.env = sandbox_env("/work");
  } else {
    // No isolation: run in `directory` itself (the caller's private copy), which the
    // unprivileged user must be able to write to.
    if (::geteuid() == 0) give_to_nobody(directory);
    spec.args = {"/bin/sh", "-c", "exec /bin/sh -c \"$1\"", "textgrad-sandbox"};
    spec.env = sandbox_env(fs::absolute(directory).string());
    spec.chdir = fs::absolute(directory).string();
  }
  spec.args.push_back(command);
  Child child(std::move(spec), options_.limits, stdin_file);
  return child.wait(options_.limits);
}

}  // namespace tg
