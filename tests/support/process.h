// Runs a program (the textgrad tool) as a child process with extra environment variables,
// capturing its output, for end-to-end tests.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace tg::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

class Process {
 public:
  // env: variables to set (an empty value unsets the variable).
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);
  ~Process();
  ProcessResult wait();
  void kill_now();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
};

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {});

// A fresh directory under /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);

}  // namespace tg::testing
