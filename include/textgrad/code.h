// Code optimization: run a program's tests in a sandbox, turn what happened into an evaluation
// text, and improve the program with textual gradients until its tests pass.
//
// Three layers, each usable alone:
//   Sandbox          runs one shell command on a private copy of a directory, isolated and
//                    limited (see docs/code.md for the exact guarantees);
//   CodeTests        writes a program next to its test files and runs the test command (or
//                    stdin/stdout test cases) in a Sandbox, producing a bounded TestReport;
//   optimize_code()  the test-time loop: tests -> critique (with the report as context) ->
//                    backward -> TGD update -> tests, keeping the version that passes most.
//
// Thread safety: Sandbox, CodeTests and CodeCritique are immutable after construction; their
// const methods may be called from many threads at once (each run gets its own directory and
// processes). optimize_code() runs on the calling thread and blocks until it is done.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/errors.h"
#include "textgrad/optimizer.h"
#include "textgrad/prompts.h"
#include "textgrad/variable.h"

namespace tg {

// The sandbox cannot run here (bubblewrap missing, user namespaces disabled, ...). The message
// says what failed and how to fix it. Nothing was run.
class SandboxUnavailable : public Error {
 public:
  using Error::Error;
};

struct SandboxLimits {
  double wall_seconds = 10;                  // the whole process tree is killed after this long
  int cpu_seconds = 10;                      // RLIMIT_CPU of each process (SIGXCPU, then SIGKILL)
  int memory_mb = 512;                       // RLIMIT_AS of each process
  int max_processes = 64;                    // processes and threads the run may add (RLIMIT_NPROC)
  int file_size_mb = 16;                     // RLIMIT_FSIZE: the largest file a process may write
  int workspace_mb = 64;                     // size of the private writable directory and of /tmp
  std::size_t kept_output = 32 * 1024;       // bytes of stdout and of stderr kept (head + tail)
  std::size_t max_output = 8 * 1024 * 1024;  // more output than this (both streams) kills the run
};

struct SandboxOptions {
  SandboxLimits limits;
  // false: NO isolation (the command sees the network and the whole file system, as the
  // user running textgrad, or nobody when that is root); only the limits and the private
  // working copy remain. For machines without user namespaces, and only for code you trust.
  bool isolate = true;
  std::string bwrap = "bwrap";  // the bubblewrap program (looked up in PATH)
};

// What one command did.
struct RunResult {
  int exit_code = -1;  // -1 when a signal ended it
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  bool output_exceeded = false;
  std::string out;  // captured stdout: head and tail, with a marker where bytes were dropped
  std::string err;  // captured stderr, likewise
  std::size_t out_bytes = 0;  // bytes written in total, kept or not
  std::size_t err_bytes = 0;
  double seconds = 0;
  bool ok() const { return exit_code == 0 && !timed_out && !output_exceeded; }
};

// Runs shell commands on a private copy of a directory.
//
// Isolated mode (the default) uses bubblewrap: new user, network, PID, IPC, UTS and cgroup
// namespaces; a read-only view of /usr (and /bin, /lib*, a few files of /etc); a fresh /dev,
// /proc and size-limited /tmp; the directory copied into a size-limited tmpfs at /work; no
// home, no other user files; runs as an unprivileged user (nobody when started as root); a
// new session; everything dies with the run. The limits above apply to every process.
class Sandbox {
 public:
  // Checks that the sandbox works here (one trial run of /bin/true). Throws
  // SandboxUnavailable otherwise, InvalidArgument for nonsensical limits.
  explicit Sandbox(SandboxOptions options = {});

  // Runs `command` with /bin/sh -c in a copy of `directory` (read; never written), with
  // `stdin_file` (a host path; empty = /dev/null) as standard input. Blocks until the command
  // and everything it started are gone.
  RunResult run(const std::string& command, const std::filesystem::path& directory,
                const std::filesystem::path& stdin_file = {}) const;

  const SandboxOptions& options() const { return options_; }

 private:
  SandboxOptions options_;
};

// A language the tests know: how its files are named and how test cases run a program.
struct Language {
  std::string name;       // "python", "cpp", ...
  std::string extension;  // ".py"
  // Shell command that runs the program `{file}` on stdin, for test cases; empty: the
  // language has no runner and needs a test command.
  std::string runner;
};
// The built-in languages (python, cpp, c, shell).
const std::vector<Language>& known_languages();
// By name or alias ("py", "c++"); InvalidArgument listing the known ones otherwise.
const Language& language_named(const std::string& name);
// By file extension; nullptr when unknown.
const Language* language_for_file(const std::filesystem::path& file);

// One stdin/stdout test case.
struct TestCase {
  std::string name;
  std::string input;
  std::string expected_output;  // compared after trimming trailing whitespace of each line
};

// The outcome of one test.
struct TestOutcome {
  enum class Status { kPassed, kFailed, kError, kSkipped };
  std::string name;
  Status status = Status::kFailed;
  std::string message;  // assertion message or reason, one line
};

struct TestReport {
  int passed = 0;
  int failed = 0;  // failures and errors
  // True when the counts are per test (pytest or test cases); otherwise the command's exit
  // status is the only test (passed or failed: 1 of 1).
  bool per_test = false;
  std::vector<TestOutcome> tests;  // per-test outcomes when known, in the order reported
  std::vector<RunResult> runs;     // one per command run
  std::string summary;             // one line, e.g. "3 of 5 tests passed"
  std::string text;                // the bounded evaluation text the critique sees

  int total() const { return passed + failed; }
  bool all_passed() const { return failed == 0 && passed > 0; }
  // The test command could not start (shell status 126/127 with nothing reported).
  bool command_not_found() const;
};

struct CodeTestsOptions {
  // The file name the code is written to, e.g. "solution.py".
  std::string filename;
  // Language name (see known_languages()); empty: from the file name's extension.
  std::string language;
  // Shell command run in the code's directory, e.g. "python3 -m pytest -q test_solution.py".
  // Empty: the test cases are run with the language's runner instead.
  std::string command;
  std::vector<TestCase> cases;
  // A directory whose contents are copied next to the code (the tests, data files...).
  std::filesystem::path files_dir;
  // More files next to the code: name -> contents.
  std::map<std::string, std::string> files;
  SandboxOptions sandbox;
  // Upper bound of TestReport::text, in bytes.
  std::size_t report_bytes = 6000;
};

// Runs tests on versions of a program. The constructor checks the options (unknown language,
// no command and no cases, a language without runner for cases: InvalidArgument) and the
// sandbox (SandboxUnavailable).
class CodeTests {
 public:
  explicit CodeTests(CodeTestsOptions options);

  // Writes `code` and the test files to a fresh temporary directory, runs the tests there in
  // the sandbox, removes the directory, and reports.
  TestReport run(const std::string& code) const;

  // The report text as a frozen Variable ("results of running the tests"): the test-running
  // loss, to be used as context of a critique.
  Variable evaluate(const Variable& code) const;

  const Language& language() const { return *language_; }
  const CodeTestsOptions& options() const { return options_; }

 private:
  TestReport run_command(const std::filesystem::path& dir) const;
  TestReport run_cases(const std::filesystem::path& dir) const;

  CodeTestsOptions options_;
  const Language* language_;
  Sandbox sandbox_;
};

// Report parsing, exposed for tests and for other runners.
// Per-test results and counts from pytest's output (run with -rA); false if it has none.
bool parse_pytest_output(const std::string& output, TestReport& report);
// Fills summary and text (at most max_bytes) from the runs and outcomes already in `report`,
// naming the limits that were hit.
void describe_report(const std::string& command, const SandboxLimits& limits, std::size_t max_bytes,
                     TestReport& report);

// The critique of a program in the light of its test results: an LLM call over the problem,
// the code and the report (templates "code_critique_system" and "code_critique_user"). Its
// output is the loss; backward gives the code its feedback.
class CodeCritique {
 public:
  CodeCritique(EnginePtr engine, std::string problem, const Prompts& prompts = Prompts());
  Variable operator()(const Variable& code, const Variable& test_results) const;

 private:
  EnginePtr engine_;
  std::string problem_;
  Variable system_prompt_;
  std::string user_format_;
};

// One round of the loop.
struct CodeIteration {
  int index = 0;         // 1-based
  std::string critique;  // the loss text
  std::string feedback;  // the feedback the code received
  UpdateOutcome::Status update = UpdateOutcome::Status::kSkipped;
  std::string update_note;  // why an update was kept or failed
  int calls = 0;            // LLM calls this round
  int version = 0;          // index of the version this round produced (in versions)
};

struct CodeVersion {
  std::string code;
  TestReport tests;
};

struct CodeOptimizationOptions {
  int iterations = 5;
  std::string problem;                   // what the code must do; empty: "make the tests pass"
  std::vector<std::string> constraints;  // extra TGD constraints
  // The input's test results when the caller already ran them (saves one run).
  const TestReport* input_tests = nullptr;
  std::shared_ptr<const Prompts> prompts;
  // Called after each round, on the calling thread.
  std::function<void(const CodeIteration&, const CodeVersion&)> on_iteration;
};

struct CodeOptimizationResult {
  std::vector<CodeVersion> versions;  // [0] is the input
  std::vector<CodeIteration> iterations;
  std::size_t best = 0;  // the version with the most passed tests, earliest on ties
  int calls = 0;

  const CodeVersion& best_version() const { return versions[best]; }
  bool solved() const { return versions[best].tests.all_passed(); }
};

// The test-time loop. Runs the tests on `code`; then, while some fail and fewer than
// `iterations` rounds ran: critique (1 call), feedback (1 call), update (1 call, 2 when the
// answer lacks its tags), tests. Stops at the first version that passes everything. The best
// version never passes fewer tests than the input. `engine` makes every call.
CodeOptimizationResult optimize_code(const std::string& code, const CodeTests& tests,
                                     const EnginePtr& engine,
                                     const CodeOptimizationOptions& options = {});

// The code inside the first fenced block of an answer (```python ... ```), or inside
// <CODE>...</CODE>, or the whole answer trimmed.
std::string extract_code(const std::string& answer);

// A unified diff of two texts (labels as in `diff -u`); empty when they are equal.
std::string unified_diff(const std::string& before, const std::string& after,
                         const std::string& before_label, const std::string& after_label);

}  // namespace tg
