#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace tg::testing {

namespace {

// The environment the child starts with: ours, with `overrides` set (an empty value unsets).
std::vector<std::string> child_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (overrides.count(std::string(text.substr(0, text.find('=')))) == 0) {
      entries.emplace_back(text);
    }
  }
  for (const auto& [name, value] : overrides) {
    if (!value.empty()) entries.push_back(name + "=" + value);
  }
  return entries;
}

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

// Note [Nothing but system calls after fork]
// The test process has threads (fake servers, the library's workers), and a child of fork()
// inherits their locks in whatever state they were in: one that allocates (setenv does) can
// wait forever on an allocator lock another thread held at the fork. A loaded ASan run hit
// exactly that. So the child's arguments and environment are built before fork, and the child
// only calls dup2, open, execve and _exit.
Process::Process(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env) {
  char out_template[] = "/tmp/textgrad-out-XXXXXX";
  char err_template[] = "/tmp/textgrad-err-XXXXXX";
  int out_fd = mkstemp(out_template);
  int err_fd = mkstemp(err_template);
  out_path_ = out_template;
  err_path_ = err_template;
  const std::vector<std::string> environment = child_environment(env);
  std::vector<char*> args = pointers(argv);
  std::vector<char*> envp = pointers(environment);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, STDIN_FILENO);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
}

Process::~Process() {
  if (pid_ > 0) {
    kill_now();
    wait();
  }
  std::remove(out_path_.c_str());
  std::remove(err_path_.c_str());
}

ProcessResult Process::wait() {
  ProcessResult result;
  if (pid_ <= 0) return result;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_text(out_path_);
  result.err = read_text(err_path_);
  return result;
}

void Process::kill_now() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env) {
  return Process(argv, env).wait();
}

TempDir::TempDir() {
  char name[] = "/tmp/textgrad-test-XXXXXX";
  if (!mkdtemp(name)) throw std::runtime_error("mkdtemp failed");
  path_ = name;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace tg::testing
