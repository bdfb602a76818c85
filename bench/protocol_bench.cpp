// Workload (f): the paper's full protocol through the CLI, against a local mock model.
//
//   textgrad_protocol_bench [--delay-ms 200] [--in-flight 32,256] [--runs 3] [--no-strace]
//                           [--orders pipelined,sequential]
//
// Runs `textgrad optimize --task object_counting --engine openai/mock-model --no-cache
// --max-in-flight N --quiet --run-dir TMP` (12 steps, batches of 3, validation and test after
// every step) as a child process and reports, per in-flight limit, the median of --runs runs:
// wall time, requests the server received, the CLI's user and system CPU (from wait4's
// rusage, so only the CLI's own process is counted; the server is another child), the CPU per
// call of a run at 0 ms per answer with the start-up (`textgrad --version`) subtracted, and the
// number of threads the CLI created, counted as clone/clone3 system calls by
// `strace -f -c` in a separate 0 ms run (skipped when strace is missing or with --no-strace).
//
// Critical-path bound. object_counting has 250 items: 50 train, 100 validation, 100 test. A
// training step is 4 dependent rounds (3 forward calls; 3 feedback calls to the answers
// through the string metric; 3 feedback calls to the prompt; 1 update call) and 10 calls.
// An evaluation of 100 items at N in flight takes ceil(100 / N) rounds. Step 0 evaluates test
// and validation; every step then trains, validates and tests. Calls: 12 x 10 + 26 x 100 =
// 2,720.
//   sequential (today's order): 12 x 4 + 26 x ceil(100 / N) rounds
//       N = 32:  48 + 26 x 4 = 152 rounds = 30.4 s at 200 ms
//       N = 256: 48 + 26 x 1 =  74 rounds = 14.8 s
//   pipelined (each test evaluation overlaps the next step, the target):
//       12 x 4 + 13 x ceil(100 / N) rounds: N = 32: 100 rounds = 20.0 s; N = 256: 61 = 12.2 s
// The table prints the ratio of the wall time to both. --orders runs the CLI's pipelined
// protocol (its default), its sequential order (TEXTGRAD_SEQUENTIAL_PROTOCOL=1), or both side
// by side.
//
// A last row measures training steps alone (--steps 60 --val-size 0 --test-size 0) at 0 ms:
// the CPU per call of prompt optimization, whose requests are the longest, and the CLI's
// context switches per call (wait4's rusage), which its chains of dependent calls drive, and
// page faults per call, which a growing heap drives;
// beside it, interleaved, `textgrad eval --split all --max-in-flight 1`, a chain of single
// calls each submitted from the completion of the one before, and the ratio of the two; and
// both at the margin: the difference between runs of 120 and 60 steps, and of 250 and 50
// items, per call, which leaves out what a run pays once (start-up moves by milliseconds from
// run to run, tens of microseconds a call over 250 calls), and their ratio.
//
// The server runs in a forked child process before this process starts any thread; the CLI is
// started with fork + execv. It is a measurement, not a test: the exit code is 0 whatever the
// numbers are.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "handoff.h"
#include "server_process.h"
#include "support/fake_llm_server.h"
#include "support/mock_model.h"

#ifndef TEXTGRAD_CLI_PATH
#error "TEXTGRAD_CLI_PATH must name the textgrad executable"
#endif
#ifndef TEXTGRAD_DATA_DIR
#error "TEXTGRAD_DATA_DIR must name the data folder"
#endif

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSteps = 12;
constexpr int kTrainingSteps = 60;     // the training-only row: about 600 calls
constexpr int kSerialEvalItems = 250;  // the serial eval row: all of object_counting
constexpr int kShortSerialEval = 50;   // its shorter run, for the margin
constexpr int kTrainRoundsPerStep = 4;
constexpr int kTrainCallsPerStep = 10;
constexpr int kEvalItems = 100;  // validation and test each
constexpr int kEvaluations = 2 * (kSteps + 1);

int ceil_div(int a, int b) { return (a + b - 1) / b; }
int sequential_rounds(int in_flight) {
  return kSteps * kTrainRoundsPerStep + kEvaluations * ceil_div(kEvalItems, in_flight);
}
int pipelined_rounds(int in_flight) {
  return kSteps * kTrainRoundsPerStep + (kEvaluations / 2) * ceil_div(kEvalItems, in_flight);
}
constexpr int kExpectedCalls = kSteps * kTrainCallsPerStep + kEvaluations * kEvalItems;

struct Settings {
  int delay_ms = 200;
  std::vector<int> in_flight = {32, 256};
  int runs = 3;
  bool strace = true;
  std::vector<std::string> orders = {"pipelined", "sequential"};
};

bool parse(int argc, char** argv, Settings& s) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-strace") {
      s.strace = false;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (flag == "--delay-ms") {
      s.delay_ms = std::atoi(value.c_str());
      if (s.delay_ms < 0) return false;
    } else if (flag == "--runs") {
      s.runs = std::atoi(value.c_str());
      if (s.runs < 1) return false;
    } else if (flag == "--orders") {
      s.orders.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) {
        if (item != "pipelined" && item != "sequential") return false;
        s.orders.push_back(item);
      }
      if (s.orders.empty()) return false;
    } else if (flag == "--in-flight") {
      s.in_flight.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) {
        const int n = std::atoi(item.c_str());
        if (n < 1) return false;
        s.in_flight.push_back(n);
      }
      if (s.in_flight.empty()) return false;
    } else {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The mock server, in a child process (bench/server_process.h)

using tg::bench::ServerProcess;

// ---------------------------------------------------------------------------------------------
// The CLI, in a child process

struct Run {
  double wall_s = 0;
  double user_s = 0;
  double sys_s = 0;
  std::int64_t calls = 0;  // requests the server received
  long switches = 0;       // the CLI's context switches, voluntary and not
  long faults = 0;         // its page faults (minor and major): each costs microseconds on a VM
  double cpu_s() const { return user_s + sys_s; }
};

double seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

// Runs argv with stdout and stderr in `log`; throws when it fails.
Run spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
          const std::string& log, const ServerProcess& server) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const std::int64_t before = server.requests();
  std::fflush(nullptr);
  const Clock::time_point start = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid) throw std::runtime_error("wait4 failed");
  Run run;
  run.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  run.user_s = seconds(usage.ru_utime);
  run.sys_s = seconds(usage.ru_stime);
  run.switches = usage.ru_nvcsw + usage.ru_nivcsw;
  run.faults = usage.ru_minflt + usage.ru_majflt;
  run.calls = server.requests() - before;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(fmt::format("'{}' failed (status {}); see {}", args[0], status, log));
  }
  return run;
}

class Protocol {
 public:
  Protocol(const ServerProcess& server, std::string dir) : server_(server), dir_(std::move(dir)) {
    env_ = {fmt::format("OPENAI_BASE_URL=http://127.0.0.1:{}/v1", server.port()),
            "OPENAI_API_KEY=mock", "TEXTGRAD_CACHE_DIR=" + dir_ + "/cache", "PATH=/usr/bin:/bin",
            "HOME=" + dir_};
  }

  Run optimize(int in_flight, const std::string& order,
               const std::vector<std::string>& wrapper = {},
               const std::vector<std::string>& extra = {}) {
    const std::string run_dir = fmt::format("{}/run-{}", dir_, ++counter_);
    std::vector<std::string> args = wrapper;
    for (const char* a :
         {TEXTGRAD_CLI_PATH, "optimize", "--task", "object_counting", "--engine",
          "openai/mock-model", "--no-cache", "--quiet", "--data-dir", TEXTGRAD_DATA_DIR}) {
      args.emplace_back(a);
    }
    for (const std::string& a : {std::string("--max-in-flight"), std::to_string(in_flight),
                                 std::string("--run-dir"), run_dir}) {
      args.push_back(a);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<std::string> env = env_;
    if (order == "sequential") env.push_back("TEXTGRAD_SEQUENTIAL_PROTOCOL=1");
    Run run = spawn(args, env, run_dir + ".log", server_);
    std::filesystem::remove_all(run_dir);
    return run;
  }

  // The first `items` of all 250 evaluated one call at a time: each call is submitted from the
  // completion of the one before, on the transport's thread.
  Run serial_eval(int items) {
    return spawn({TEXTGRAD_CLI_PATH, "eval", "--task", "object_counting", "--split", "all",
                  "--size", std::to_string(items), "--engine", "openai/mock-model", "--no-cache",
                  "--quiet", "--data-dir", TEXTGRAD_DATA_DIR, "--max-in-flight", "1"},
                 env_, dir_ + "/eval.log", server_);
  }

  Run version() { return spawn({TEXTGRAD_CLI_PATH, "--version"}, env_, dir_ + "/v.log", server_); }
  const std::string& dir() const { return dir_; }

 private:
  const ServerProcess& server_;
  std::string dir_;
  std::vector<std::string> env_;
  int counter_ = 0;
};

Run median_by(std::vector<Run> runs, double (*key)(const Run&)) {
  std::sort(runs.begin(), runs.end(), [&](const Run& a, const Run& b) { return key(a) < key(b); });
  return runs[runs.size() / 2];
}

// clone + clone3 calls in an `strace -c` summary; -1 when there is none.
long threads_created(const std::string& summary_path) {
  std::ifstream in(summary_path);
  long total = -1;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string word; fields >> word;) f.push_back(word);
    if (f.size() < 5) continue;
    if (f.back() == "clone" || f.back() == "clone3") total = std::max(0L, total) + std::stol(f[3]);
  }
  return total;
}

bool have_strace() { return access("/usr/bin/strace", X_OK) == 0; }

// CPU a call between the medians of a shorter and a longer run of the same work; printed.
double margin(const std::string& what, const std::vector<Run>& shorter_runs,
              const std::vector<Run>& longer_runs) {
  const Run shorter = median_by(shorter_runs, [](const Run& r) { return r.cpu_s(); });
  const Run longer = median_by(longer_runs, [](const Run& r) { return r.cpu_s(); });
  const std::int64_t more_calls = longer.calls - shorter.calls;
  const double us = more_calls > 0 ? (longer.cpu_s() - shorter.cpu_s()) * 1e6 / more_calls : 0;
  std::printf("%s: %lld more calls, %.1f us/call\n", what.c_str(),
              static_cast<long long>(more_calls), us);
  return us;
}

// Prompt-optimization training steps alone (no validation, no test) at 0 ms: their calls carry
// the longest requests (feedback and update prompts) and run a few at a time.
void print_training_row(const Settings& s, Protocol& protocol, const Run& start) {
  const std::vector<std::string> training = {
      "--steps", std::to_string(kTrainingSteps), "--val-size", "0", "--test-size", "0"};
  std::vector<std::string> longer = training;
  longer[1] = std::to_string(2 * kTrainingSteps);
  std::vector<Run> trainings;
  std::vector<Run> longer_trainings;
  std::vector<Run> evals;
  std::vector<Run> short_evals;
  for (int i = 0; i < s.runs; ++i) {  // interleaved: all see the same machine
    trainings.push_back(protocol.optimize(32, "pipelined", {}, training));
    longer_trainings.push_back(protocol.optimize(32, "pipelined", {}, longer));
    evals.push_back(protocol.serial_eval(kSerialEvalItems));
    short_evals.push_back(protocol.serial_eval(kShortSerialEval));
  }
  auto print = [&](const char* what, const std::vector<Run>& runs) {
    const Run f = median_by(runs, [](const Run& r) { return r.cpu_s(); });
    const double per_call = 1e6 / static_cast<double>(std::max<std::int64_t>(1, f.calls));
    std::printf(
        "%-58s %5lld calls %8.1f us/call (user %.1f, sys %.1f) %5.1f switches/call %5.2f "
        "page faults/call\n",
        what, static_cast<long long>(f.calls), (f.cpu_s() - start.cpu_s()) * per_call,
        (f.user_s - start.user_s) * per_call, (f.sys_s - start.sys_s) * per_call,
        static_cast<double>(f.switches - start.switches) * per_call / 1e6,
        static_cast<double>(f.faults - start.faults) * per_call / 1e6);
    return (f.cpu_s() - start.cpu_s()) * per_call;
  };
  std::printf("\nOne chain of dependent calls at a time, 0 ms, median of %d by CPU:\n", s.runs);
  const double train_us = print(
      fmt::format("training steps only (--steps {} --val-size 0 --test-size 0)", kTrainingSteps)
          .c_str(),
      trainings);
  const double eval_us = print(
      fmt::format("eval of all {} items at --max-in-flight 1", kSerialEvalItems).c_str(), evals);
  std::printf("training / serial eval: %.2f\n", eval_us > 0 ? train_us / eval_us : 0);
  tg::bench::print_handoffs("");
  // What one more call costs, without what a run pays once (its start, the engines, the
  // trace's schema, the reports' fixed part): the difference of two run lengths.
  const double train_margin =
      margin(fmt::format("training steps at the margin ({} steps against {})", 2 * kTrainingSteps,
                         kTrainingSteps),
             trainings, longer_trainings);
  const double eval_margin = margin(fmt::format("serial eval at the margin ({} items against {})",
                                                kSerialEvalItems, kShortSerialEval),
                                    short_evals, evals);
  std::printf("training / serial eval at the margin: %.2f\n",
              eval_margin > 0 ? train_margin / eval_margin : 0);
}

void run(const Settings& s) {
  const int max_in_flight = *std::max_element(s.in_flight.begin(), s.in_flight.end());
  // One server thread per connection, plus headroom.
  ServerProcess server(max_in_flight + 64, tg::testing::MockModel(TEXTGRAD_DATA_DIR, 0));
  char pattern[] = "/tmp/textgrad-protocol-bench-XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("cannot create a temporary directory");
  Protocol protocol(server, pattern);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf(
      "textgrad-cpp protocol benchmark (workload f): object_counting, %d steps, %d calls in "
      "the bounds'\ncount (the calls column counts what the server received: the mock model's "
      "update answers\nsometimes need a repair call, or skip a validation), %d ms per answer, "
      "median of %d runs,\nload average %.2f %.2f %.2f\n\n",
      kSteps, kExpectedCalls, s.delay_ms, s.runs, load[0], load[1], load[2]);

  server.set_delay(0);
  std::vector<Run> starts;
  for (int i = 0; i < s.runs; ++i) starts.push_back(protocol.version());
  const Run start = median_by(starts, [](const Run& r) { return r.cpu_s(); });

  std::printf("%10s %9s %6s %7s %7s %6s %7s %6s %7s %7s | %8s %8s %8s %8s\n", "order", "in flight",
              "calls", "wall s", "seq s", "ratio", "pipe s", "ratio", "user s", "sys s", "us/call",
              "user us", "sys us", "threads");
  for (const int n : s.in_flight) {
    for (const std::string& order : s.orders) {
      server.set_delay(s.delay_ms);
      std::vector<Run> timed;
      for (int i = 0; i < s.runs; ++i) timed.push_back(protocol.optimize(n, order));
      const Run t = median_by(timed, [](const Run& r) { return r.wall_s; });

      server.set_delay(0);
      std::vector<Run> fast;
      for (int i = 0; i < s.runs; ++i) fast.push_back(protocol.optimize(n, order));
      const Run f = median_by(fast, [](const Run& r) { return r.cpu_s(); });
      const double per_call = 1e6 / static_cast<double>(std::max<std::int64_t>(1, f.calls));

      long threads = -1;
      if (s.strace && have_strace()) {
        const std::string summary = protocol.dir() + fmt::format("/strace-{}-{}.txt", n, order);
        protocol.optimize(
            n, order,
            {"/usr/bin/strace", "-f", "-qq", "-c", "-e", "trace=clone,clone3", "-o", summary});
        threads = threads_created(summary);
      }
      const double delay_s = s.delay_ms / 1000.0;
      const double seq = sequential_rounds(n) * delay_s;
      const double pipe = pipelined_rounds(n) * delay_s;
      std::printf(
          "%10s %9d %6lld %7.2f %7.2f %6.3f %7.2f %6.3f %7.2f %7.2f | %8.1f %8.1f %8.1f %8s\n",
          order.c_str(), n, static_cast<long long>(t.calls), t.wall_s, seq,
          seq > 0 ? t.wall_s / seq : 0, pipe, pipe > 0 ? t.wall_s / pipe : 0, t.user_s, t.sys_s,
          (f.cpu_s() - start.cpu_s()) * per_call, (f.user_s - start.user_s) * per_call,
          (f.sys_s - start.sys_s) * per_call, threads < 0 ? "-" : std::to_string(threads).c_str());
      std::fflush(stdout);
    }
  }
  print_training_row(s, protocol, start);
  std::printf(
      "\nwall/user/sys: median-wall run at %d ms. seq / pipe: critical-path bounds of today's "
      "sequential\norder and of the pipelined protocol (see the header). us/call: CLI CPU per "
      "server request at\n0 ms, start-up (%.1f ms, `textgrad --version`) subtracted. threads: "
      "clone/clone3 calls of the CLI\nunder strace -f at 0 ms ('-' when not counted).\n",
      s.delay_ms, start.cpu_s() * 1e3);
  std::filesystem::remove_all(protocol.dir());
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  if (!parse(argc, argv, settings)) {
    std::fprintf(stderr,
                 "usage: %s [--delay-ms 200] [--in-flight 32,256] [--runs 3] [--no-strace] "
                 "[--orders pipelined,sequential]\n",
                 argv[0]);
    return 2;
  }
  try {
    run(settings);
  } catch (const std::exception& e) {
    std::printf("benchmark could not run: %s\n", e.what());
  }
  return 0;
}
