// The sandbox stops hostile or broken code and says what happened: network, writes outside
// its directory, the user's files, fork loops, unbounded allocation, sleeping forever, output
// floods. Each probe is a small Python program run the way the code loop runs tests.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/process.h"
#include "support/sandbox_lock.h"
#include "textgrad/code.h"

namespace tg {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Generous limits for everything that should finish; the probes that must be stopped meet
// a limit by construction, not by timing.
SandboxOptions probe_options() {
  SandboxOptions options;
  options.limits.wall_seconds = 60;
  options.limits.cpu_seconds = 30;
  options.limits.memory_mb = 256;
  options.limits.max_processes = 24;
  return options;
}

TestReport run_probe(const std::string& program, SandboxOptions options = probe_options(),
                     const std::string& filename = "probe.py") {
  CodeTestsOptions tests;
  tests.filename = filename;
  tests.command = "python3 " + filename;
  tests.sandbox = options;
  return CodeTests(tests).run(program);
}

const RunResult& only_run(const TestReport& report) {
  EXPECT_EQ(report.runs.size(), 1u);
  return report.runs.front();
}

// Processes anywhere on the machine whose command line mentions `marker`. A process that
// exits while its cmdline is read fails the read with ESRCH: it mentions nothing any more
// (libstdc++'s streams throw on that error, which failed a loaded sanitizer run).
int processes_now_mentioning(const std::string& marker) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string cmdline;
    try {
      std::ifstream in(entry.path() / "cmdline", std::ios::binary);
      cmdline.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::ios_base::failure&) {
      continue;
    }
    count += cmdline.find(marker) != std::string::npos;
  }
  return count;
}

// The processes whose command line mentions `marker`, once the kernel has had up to 5 s to
// finish tearing down what was killed: SIGKILL to a tree (and the end of a PID namespace) is
// delivered at once but completes asynchronously, and on a loaded machine a killed process
// can still be listed for a moment after the sandbox returned.
int processes_mentioning(const std::string& marker) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int count = processes_now_mentioning(marker);
  while (count > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    count = processes_now_mentioning(marker);
  }
  return count;
}

// Every test needs bubblewrap (scripts/setup.sh installs it): without it they fail with
// SandboxUnavailable rather than pass unsandboxed.
class SandboxTest : public ::testing::Test {
 protected:
  // Shared with the sandboxes of other test processes, not with the fork loop below: Note
  // [Sandbox tests and the process limit].
  testing::SandboxLock lock_;
  TempDir dir_;
};

TEST_F(SandboxTest, RunsOrdinaryCodeAndCapturesItsOutput) {
  TestReport report = run_probe("import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n");
  const RunResult& run = only_run(report);
  EXPECT_TRUE(run.ok()) << run.err;
  EXPECT_EQ(run.out, "hello\n");
  EXPECT_EQ(run.err, "oops\n");
  EXPECT_TRUE(report.all_passed());
  EXPECT_EQ(report.summary, "the test command succeeded (exit status 0)");
}

TEST_F(SandboxTest, HasNoNetwork) {
  // A server on the host's loopback: the sandbox has its own, empty network.
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(server, 4), 0);
  socklen_t length = sizeof address;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);

  TestReport report = run_probe(
      "import socket\n"
      "for host, port in [('127.0.0.1', " +
      std::to_string(port) +
      "), ('1.1.1.1', 53)]:\n"
      "    try:\n"
      "        socket.create_connection((host, port), timeout=5)\n"
      "        print('connected', host)\n"
      "    except OSError as e:\n"
      "        print('blocked', host, e)\n"
      "socket.create_connection(('1.1.1.1', 53), timeout=5)\n");
  const RunResult& run = only_run(report);
  EXPECT_EQ(run.out.find("connected"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("blocked 127.0.0.1"), std::string::npos) << run.out;
  EXPECT_FALSE(report.all_passed());
  EXPECT_NE(report.text.find("tried to use the network"), std::string::npos) << report.text;
  EXPECT_EQ(::accept(server, nullptr, nullptr), -1);  // nobody knocked
  ::close(server);
}

TEST_F(SandboxTest, CannotWriteOutsideItsDirectory) {
  const std::string existing = dir_.file("users_file.txt");
  testing::write_text(existing, "precious\n");
  TestReport report = run_probe(
      "import os\n"
      "for path in ['" +
      existing + "', '" + dir_.file("new.txt") +
      "', '/usr/evil', '/etc/evil', '/evil', '/root/evil']:\n"
      "    try:\n"
      "        with open(path, 'w') as f: f.write('pwned')\n"
      "        print('wrote', path)\n"
      "    except OSError as e:\n"
      "        print('refused', path, e.strerror)\n"
      "open('inside.txt', 'w').write('fine')\n"
      "open('/tmp/scratch', 'w').write('fine')\n"
      "print('own directory and /tmp are writable')\n"
      "open('/usr/evil', 'w')\n");
  const RunResult& run = only_run(report);
  EXPECT_EQ(run.out.find("wrote"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("own directory and /tmp are writable"), std::string::npos) << run.err;
  EXPECT_EQ(testing::read_text(existing), "precious\n");
  EXPECT_FALSE(fs::exists(dir_.file("new.txt")));
  EXPECT_FALSE(fs::exists("/usr/evil"));
  EXPECT_FALSE(fs::exists("/evil"));
  EXPECT_NE(report.text.find("only its own directory and /tmp are writable"), std::string::npos)
      << report.text;
}

TEST_F(SandboxTest, CannotReadTheUsersFiles) {
  const std::string secret = dir_.file("secret.txt");
  testing::write_text(secret, "the-secret-value\n");
  const char* home = std::getenv("HOME");
  TestReport report = run_probe(
      "import os\n"
      "print('home is', os.path.expanduser('~'), os.listdir(os.path.expanduser('~')))\n"
      "for path in ['" +
      secret + "', '" + std::string(home ? home : "/root") +
      "/.bashrc', '/root', '/home', '/work/../root']:\n"
      "    try:\n"
      "        print(path, open(path).read() if os.path.isfile(path) else os.listdir(path))\n"
      "    except OSError as e:\n"
      "        print('hidden', path, e.strerror)\n");
  const RunResult& run = only_run(report);
  EXPECT_TRUE(run.ok()) << run.err;
  EXPECT_EQ(run.out.find("the-secret-value"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("home is /work ['probe.py']"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("hidden " + secret), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("hidden /root"), std::string::npos) << run.out;
}

// Runs with no other sandbox: Note [Sandbox tests and the process limit].
TEST(ForkLoopSandboxTest, StopsAForkLoopAndLeavesNoProcessBehind) {
  testing::SandboxLock alone(testing::SandboxLock::Mode::kAlone);
  // Every child sleeps "forever"; the parent forks until the process limit stops it, then
  // exits, and the sandbox takes the sleeping children with it.
  TestReport report = run_probe(
      "import os, sys, time\n"
      "children = 0\n"
      "try:\n"
      "    while True:\n"
      "        if os.fork() == 0:\n"
      "            time.sleep(100000)\n"
      "        children += 1\n"
      "except OSError as e:\n"
      "    print('fork failed after', children, e, flush=True)\n"
      "    sys.exit(1)\n",
      probe_options(), "fork_loop_5dbe.py");
  const RunResult& run = only_run(report);
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("fork failed after"), std::string::npos) << run.out << run.err;
  EXPECT_NE(report.text.find("process limit reached (24 processes)"), std::string::npos)
      << report.text;
  EXPECT_EQ(processes_mentioning("fork_loop_5dbe.py"), 0);
}

TEST_F(SandboxTest, StopsUnboundedAllocation) {
  TestReport report = run_probe(
      "blocks = []\n"
      "while True:\n"
      "    blocks.append(bytearray(16 * 1024 * 1024))\n");
  const RunResult& run = only_run(report);
  EXPECT_FALSE(run.ok());
  EXPECT_NE(run.err.find("MemoryError"), std::string::npos) << run.err;
  EXPECT_NE(report.text.find("memory limit reached (256 MB"), std::string::npos) << report.text;
}

TEST_F(SandboxTest, KillsCodeThatSleepsForeverWithEverythingItStarted) {
  SandboxOptions options = probe_options();
  options.limits.wall_seconds = 10;
  TestReport report = run_probe(
      "import subprocess, time\n"
      "subprocess.Popen(['sleep', '100001'])\n"
      "print('sleeping', flush=True)\n"
      "time.sleep(100002)\n",
      options, "sleeper_7a1c.py");
  const RunResult& run = only_run(report);
  EXPECT_TRUE(run.timed_out);
  EXPECT_EQ(run.signal, SIGKILL);
  EXPECT_EQ(run.out, "sleeping\n");
  EXPECT_FALSE(report.all_passed());
  EXPECT_NE(report.text.find("TIMED OUT: still running after 10 s"), std::string::npos)
      << report.text;
  EXPECT_EQ(processes_mentioning("100001"), 0);
  EXPECT_EQ(processes_mentioning("sleeper_7a1c.py"), 0);
}

TEST_F(SandboxTest, ATimedOutPytestRunStillCountsWhatPassed) {
  CodeTestsOptions options;
  options.filename = "solution.py";
  options.command = "python3 -m pytest -q test_solution.py";
  options.files["test_solution.py"] =
      "import time\nfrom solution import f\n"
      "def test_a():\n    assert f() == 1\n"
      "def test_b():\n    assert f() == 2\n"
      "def test_slow():\n    time.sleep(100004)\n"
      "def test_never_reached():\n    pass\n";
  options.sandbox = probe_options();
  options.sandbox.limits.wall_seconds = 15;
  TestReport report = CodeTests(options).run("def f():\n    return 1\n");
  EXPECT_TRUE(report.runs.front().timed_out);
  EXPECT_TRUE(report.per_test);
  EXPECT_EQ(report.passed, 1);
  EXPECT_EQ(report.failed, 2);  // test_b, and test_slow that was running
  EXPECT_NE(report.text.find("TIMED OUT"), std::string::npos) << report.text;
}

TEST_F(SandboxTest, CapsAFloodOfOutput) {
  SandboxOptions options = probe_options();
  options.limits.max_output = 1 << 20;
  options.limits.kept_output = 1000;
  TestReport report = run_probe("while True:\n    print('x' * 1000)\n", options);
  const RunResult& run = only_run(report);
  EXPECT_TRUE(run.output_exceeded);
  EXPECT_GT(run.out_bytes, 1u << 20);
  EXPECT_LT(run.out.size(), 1100u);
  EXPECT_NE(run.out.find("bytes not kept"), std::string::npos);
  EXPECT_NE(report.text.find("output limit exceeded"), std::string::npos) << report.text;
  EXPECT_LE(report.text.size(), CodeTestsOptions().report_bytes);
}

TEST_F(SandboxTest, TestCasesFeedStdinAndCompareStdout) {
  CodeTestsOptions options;
  options.filename = "double.py";
  options.cases = {{"small", "2\n", "4\n"}, {"negative", "-3\n", "-6"}, {"big", "10\n", "21\n"}};
  options.sandbox = probe_options();
  TestReport report = CodeTests(options).run("print(2 * int(input()))\n");
  EXPECT_TRUE(report.per_test);
  EXPECT_EQ(report.passed, 2);
  EXPECT_EQ(report.failed, 1);
  ASSERT_EQ(report.tests.size(), 3u);
  EXPECT_EQ(report.tests[2].message, "input '10|': expected '21', got '20'");
  EXPECT_NE(report.text.find("2 of 3 tests passed"), std::string::npos) << report.text;
}

TEST_F(SandboxTest, CppProgramsBuildAndRunWithTheirTestCommand) {
  CodeTestsOptions options;
  options.filename = "sol.cpp";
  options.command = "g++ -O1 sol.cpp && ./a.out";
  options.sandbox = probe_options();
  CodeTests tests(options);
  EXPECT_EQ(tests.language().name, "cpp");
  const std::string program =
      "#include <cassert>\n#include <cstdio>\nint twice(int x) { return x + x; }\n"
      "int main() { std::puts(\"start\"); assert(twice(4) == 8); return 0; }\n";
  EXPECT_TRUE(tests.run(program).all_passed());
  std::string wrong = program;
  wrong.replace(wrong.find("x + x"), 5, "x * 3");
  TestReport report = tests.run(wrong);
  EXPECT_FALSE(report.all_passed());
  EXPECT_EQ(report.runs.front().signal, SIGABRT);
  EXPECT_NE(report.text.find("crashed: killed by signal 6"), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("Assertion `twice(4) == 8' failed"), std::string::npos) << report.text;
}

TEST(SandboxSetupTest, MissingBubblewrapIsAClearErrorNotAnUnsandboxedRun) {
  SandboxOptions options;
  options.bwrap = "/nonexistent/bwrap";
  try {
    Sandbox sandbox(options);
    FAIL() << "expected SandboxUnavailable";
  } catch (const SandboxUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("--no-sandbox"), std::string::npos) << e.what();
  }
  options.bwrap = "bwrap";
  options.limits.memory_mb = 0;
  EXPECT_THROW(Sandbox{options}, InvalidArgument);
}

TEST(SandboxSetupTest, WithoutIsolationTheLimitsStillHold) {
  testing::SandboxLock lock;  // Note [Sandbox tests and the process limit]
  SandboxOptions options = probe_options();
  options.isolate = false;
  options.limits.wall_seconds = 5;
  CodeTestsOptions tests;
  tests.filename = "probe.sh";
  tests.command = "sh probe.sh";
  tests.sandbox = options;
  TestReport report = CodeTests(tests).run("echo started\nsleep 100003\n");
  EXPECT_TRUE(report.runs.front().timed_out);
  EXPECT_EQ(report.runs.front().out, "started\n");
  EXPECT_EQ(processes_mentioning("100003"), 0);
}

}  // namespace
}  // namespace tg
