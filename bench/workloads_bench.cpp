// Workload benchmark: the reference's three workloads, a large evaluation, the framework's
// per-call overhead and the response cache, all against a local OpenAI-shaped server that
// answers after a configurable delay. Prints a table and one PASS/FAIL line per target. The
// large evaluation (d) also runs through the bare transport, to show the stack's own share;
// each path runs twice, to separate the cost of opening connections from the rest, in three
// rounds whose median is reported.
//
//   textgrad_workloads_bench [--delay-ms 200] [--eval-items 1000] [--in-flight 256]
//                            [--overhead-calls 5000] [--quick]
//
// The server runs in a forked child process so that getrusage(RUSAGE_SELF) in this process
// counts only our own CPU time. It is a measurement, not a test: the exit code is 0 whatever
// the numbers are.
#include <curl/curl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "handoff.h"
#include "server_process.h"
#include "support/fake_llm_server.h"
#include "support/workloads.h"
#include "textgrad/cache.h"
#include "textgrad/engines.h"
#include "textgrad/limits.h"
#include "textgrad/textgrad.h"
#include "textgrad/usage.h"
#include "transport_driver.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct CpuTime {
  double user_s = 0;
  double sys_s = 0;
  double total() const { return user_s + sys_s; }
  CpuTime operator-(const CpuTime& o) const { return {user_s - o.user_s, sys_s - o.sys_s}; }
};

// This process only: the server is a child and is not counted. System time includes the
// kernel's loopback TCP work, part of which is the receiving side's.
CpuTime cpu_time() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto to_s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {to_s(usage.ru_utime), to_s(usage.ru_stime)};
}

// ---------------------------------------------------------------------------------------------
// Settings

struct Settings {
  int delay_ms = 200;
  int eval_items = 1000;
  int in_flight = 256;
  int overhead_calls = 5000;
  bool quick = false;
};

void apply_quick(Settings& s) {
  s = {.delay_ms = 20, .eval_items = 256, .in_flight = 64, .overhead_calls = 1000, .quick = true};
}

bool parse(int argc, char** argv, Settings& settings) {
  // --quick first, so that explicit values given with it still win.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) apply_quick(settings);
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) continue;
    if (i + 1 >= argc) return false;
    const int value = std::atoi(argv[i + 1]);
    const std::string flag = argv[i++];
    if (flag == "--delay-ms" && value >= 0) {
      settings.delay_ms = value;
    } else if (flag == "--eval-items" && value > 0) {
      settings.eval_items = value;
    } else if (flag == "--in-flight" && value > 0) {
      settings.in_flight = value;
    } else if (flag == "--overhead-calls" && value > 0) {
      settings.overhead_calls = value;
    } else {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The server's model

struct Conversation {
  std::string system;
  std::string user;
};

Conversation conversation_of(const tg::fake::RecordedRequest& request) {
  Conversation conversation;
  // Kept in a variable: a range-for over a member of a temporary would dangle.
  const nlohmann::json body = request.json();
  for (const nlohmann::json& message : body.at("messages")) {
    const nlohmann::json& content = message.at("content");
    std::string text;
    if (content.is_string()) {
      text = content.get<std::string>();
    } else {
      for (const nlohmann::json& part : content) {
        if (part.value("type", "") == "text") text += part.at("text").get<std::string>();
      }
    }
    (message.at("role") == "system" ? conversation.system : conversation.user) += text;
  }
  return conversation;
}

// Answers like a model would, deterministically, so that a second run repeats every request.
std::string model_answer(const Conversation& c) {
  const std::uint64_t n = tg::testing::fnv1a(c.user) % 10000;
  auto has = [](const std::string& text, const char* what) {
    return text.find(what) != std::string::npos;
  };
  if (has(c.system, "feedback engine")) {
    return fmt::format("Feedback {}: state every step explicitly and check the final number.", n);
  }
  if (has(c.system, "optimization system that improves text")) {
    return fmt::format("<IMPROVED_VARIABLE>new value {}</IMPROVED_VARIABLE>", n);
  }
  if (has(c.user, "<ACCURACY>")) return "<ACCURACY>1</ACCURACY>";
  return "Reasoning. Answer: 4";
}

// The server's answers.
tg::fake::FakeReply answer(const tg::fake::RecordedRequest& request) {
  return tg::fake::openai_reply(model_answer(conversation_of(request)));
}

using tg::bench::ServerProcess;

// ---------------------------------------------------------------------------------------------
// Engines and measurements

struct Bench {
  ServerProcess& server;
  std::shared_ptr<tg::http::Transport> transport;  // one connection pool for every engine
  Settings settings;

  std::string base_url() const { return fmt::format("http://127.0.0.1:{}", server.port()); }

  // On `own` when given, else on the shared pool.
  tg::EnginePtr http_engine(std::shared_ptr<tg::http::Transport> own = nullptr) const {
    tg::EngineOptions options;
    options.base_url = base_url() + "/v1";
    options.api_key = "bench";
    options.max_retries = 0;
    options.timeout_s = 120;
    options.transport = own ? std::move(own) : transport;
    return tg::make_engine("openai/bench-model", options);
  }

  // The stack a user would build: HTTP engine, in-flight limit, usage ledger.
  tg::EnginePtr engine(int max_in_flight,
                       std::shared_ptr<tg::http::Transport> own = nullptr) const {
    return tg::with_ledger(
        tg::with_limits(http_engine(std::move(own)), {.max_in_flight = max_in_flight}),
        std::make_shared<tg::Ledger>());
  }
};

struct Measurement {
  std::int64_t calls = 0;  // requests the server received
  double wall_s = 0;
  CpuTime cpu;  // this process only
  int peak = 0;
};

Measurement measure(ServerProcess& server, const std::function<void()>& run) {
  server.reset_peak();
  const std::int64_t requests_before = server.requests();
  const CpuTime cpu_before = cpu_time();
  const Clock::time_point start = Clock::now();
  run();
  Measurement m;
  m.wall_s = seconds_since(start);
  m.cpu = cpu_time() - cpu_before;
  m.calls = server.requests() - requests_before;
  m.peak = server.peak();
  return m;
}

struct Target {
  std::string name;
  bool pass = false;
  std::string detail;
};

// ---------------------------------------------------------------------------------------------
// (a)-(c): the reference workloads, concurrent and reference-style sequential

struct Workload {
  const char* name;
  int steps;
  int rounds_per_step;  // dependent calls per step: the critical path
  int calls_per_step;
  std::function<void(const tg::EnginePtr&, const tg::testing::WorkloadOptions&)> run;
};

std::vector<Workload> workloads() {
  using tg::testing::WorkloadOptions;
  auto prompt = [](bool judge) {
    return [judge](const tg::EnginePtr& engine, const WorkloadOptions& options) {
      WorkloadOptions o = options;
      o.llm_judge = judge;
      tg::testing::run_prompt_workload(engine, o);
    };
  };
  return {
      {"(a) solution, TextLoss", 3, 3, 3, tg::testing::run_solution_workload},
      {"(b) prompt, string metric", 4, 4, 10, prompt(false)},
      {"(b) prompt, LLM judge", 4, 5, 13, prompt(true)},
      {"(c) chain of 3, TextLoss", 2, 9, 9, tg::testing::run_chain_workload},
  };
}

Measurement run_workload(Bench& bench, const Workload& w, bool sequential) {
  // Sequential = the reference's behavior: one call at a time, every value awaited.
  const int limit = sequential ? 1 : bench.settings.in_flight;
  const tg::EnginePtr engine = bench.engine(limit);
  tg::testing::WorkloadOptions options{.steps = w.steps, .concurrency = sequential ? 1 : 8};
  return measure(bench.server, [&] { w.run(engine, options); });
}

void bench_workloads(Bench& bench, std::vector<Target>& targets) {
  const double delay_s = bench.settings.delay_ms / 1000.0;
  std::printf(
      "\nWorkloads (a)-(c) at %d ms per answer. calls = requests the server received, exp = "
      "the\nreference's count; bound = rounds of dependent calls x delay; sequential = "
      "reference-style\n(one call in flight, concurrency 1), measured.\n\n",
      bench.settings.delay_ms);
  std::printf("%-27s %5s %5s %6s %7s %7s %6s %4s | %5s %7s %7s\n", "workload", "calls", "exp",
              "rounds", "bound s", "wall s", "ratio", "peak", "calls", "seq s", "speedup");
  for (const Workload& w : workloads()) {
    const Measurement fast = run_workload(bench, w, false);
    const Measurement slow = run_workload(bench, w, true);
    const int rounds = w.rounds_per_step * w.steps;
    const double bound = rounds * delay_s;
    const double ratio = bound > 0 ? fast.wall_s / bound : 0;
    std::printf("%-27s %5lld %5d %6d %7.3f %7.3f %6.3f %4d | %5lld %7.3f %6.2fx\n", w.name,
                static_cast<long long>(fast.calls), w.calls_per_step * w.steps, rounds, bound,
                fast.wall_s, ratio, fast.peak, static_cast<long long>(slow.calls), slow.wall_s,
                slow.wall_s / fast.wall_s);
    targets.push_back({fmt::format("{}: wall <= 1.10 x critical-path bound", w.name),
                       bound > 0 && ratio <= 1.10,
                       fmt::format("{:.3f} s / {:.3f} s = {:.3f}", fast.wall_s, bound, ratio)});
  }
}

// ---------------------------------------------------------------------------------------------
// (d): evaluation of many items at once

std::vector<tg::Variable> submit_items(const tg::EnginePtr& engine, int items, int first) {
  tg::LLMCall model(engine,
                    tg::Variable("You answer counting questions. End with 'Answer: N'.",
                                 tg::roles::kSystemPrompt, false),
                    tg::Phase::kEvaluation);
  std::vector<tg::Variable> outputs;
  outputs.reserve(static_cast<std::size_t>(items));
  for (int i = 0; i < items; ++i) {
    tg::Variable question(fmt::format("Item {}: how many objects are on the table?", first + i),
                          tg::roles::kLlmInput, false);
    outputs.push_back(model(question));
  }
  return outputs;
}

void wait_all(const std::vector<tg::Variable>& outputs) {
  for (const tg::Variable& v : outputs) v.wait();
}

// A path of (d) run twice on a transport of its own: first opening most of its connections
// (what a user's first large evaluation pays), then again on the connections left open.
struct TwoRuns {
  Measurement opening;
  Measurement open;
};

// The run whose wall time is the median.
Measurement median_by_wall(std::vector<Measurement> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const Measurement& a, const Measurement& b) { return a.wall_s < b.wall_s; });
  return runs[runs.size() / 2];
}

void bench_evaluation(Bench& bench, std::vector<Target>& targets) {
  const Settings& s = bench.settings;
  const double ideal = static_cast<double>(s.eval_items) / s.in_flight * s.delay_ms / 1000.0;
  const auto ratio = [ideal](const Measurement& m) { return ideal > 0 ? m.wall_s / ideal : 0; };
  // The bare transport beside the stack: what libcurl and this server allow on this machine,
  // so that the stack's own share of the wall is visible. Every path gets a transport of its
  // own and closes it before the next starts: each open connection holds one of the server's
  // threads. Three rounds, because one run of (d) moves by several per cent with the machine.
  constexpr int kRounds = 3;
  const long connections = std::max(512, 2 * s.in_flight);
  std::vector<TwoRuns> bare;
  std::vector<TwoRuns> stack;
  for (int round = 0; round < kRounds; ++round) {
    {
      const std::shared_ptr<tg::http::Transport> transport = tg::make_transport(connections);
      const auto run = [&] {
        tg::bench::Driver driver(*transport, tg::bench::chat_request(bench.base_url()),
                                 s.eval_items);
        driver.run(s.in_flight);
      };
      bare.push_back({measure(bench.server, run), measure(bench.server, run)});  // in order
    }
    const tg::EnginePtr engine = bench.engine(s.in_flight, tg::make_transport(connections));
    const int first = 2 * round * s.eval_items;  // new questions: nothing repeats a request
    const auto run = [&](int from) {
      return measure(bench.server, [&] { wait_all(submit_items(engine, s.eval_items, from)); });
    };
    stack.push_back({run(first), run(first + s.eval_items)});  // in order: a braced list
  }
  const auto median = [](const std::vector<TwoRuns>& runs, Measurement TwoRuns::*which) {
    std::vector<Measurement> picked;
    for (const TwoRuns& r : runs) picked.push_back(r.*which);
    return median_by_wall(picked);
  };
  const auto range = [&](const std::vector<TwoRuns>& runs, Measurement TwoRuns::*which) {
    double low = 1e9;
    double high = 0;
    for (const TwoRuns& r : runs) {
      low = std::min(low, ratio(r.*which));
      high = std::max(high, ratio(r.*which));
    }
    return fmt::format("{:.3f}-{:.3f}", low, high);
  };
  const Measurement stack_new = median(stack, &TwoRuns::opening);
  const Measurement stack_open = median(stack, &TwoRuns::open);
  const Measurement bare_new = median(bare, &TwoRuns::opening);
  const Measurement bare_open = median(bare, &TwoRuns::open);
  std::printf(
      "\n(d) evaluation: %d items, at most %d in flight, %d ms per answer; ideal "
      "(items/in-flight x delay) %.3f s; median of %d by wall\n",
      s.eval_items, s.in_flight, s.delay_ms, ideal, kRounds);
  std::printf("    %-40s %6s %7s %7s %13s %6s %13s\n", "path", "calls", "wall s", "ratio",
              "ratio range", "peak", "our CPU us/call");
  const auto row = [&](const char* name, const Measurement& r, const std::string& spread) {
    std::printf("    %-40s %6lld %7.3f %7.3f %13s %6d %13.1f\n", name,
                static_cast<long long>(r.calls), r.wall_s, ratio(r), spread.c_str(), r.peak,
                r.cpu.total() * 1e6 / static_cast<double>(std::max<std::int64_t>(1, r.calls)));
  };
  row("LLMCall, opening connections", stack_new, range(stack, &TwoRuns::opening));
  row("LLMCall, connections open", stack_open, range(stack, &TwoRuns::open));
  row("transport alone, opening connections", bare_new, range(bare, &TwoRuns::opening));
  row("transport alone, connections open", bare_open, range(bare, &TwoRuns::open));
  std::printf("    stack / transport: %.3f opening connections, %.3f with them open\n",
              stack_new.wall_s / bare_new.wall_s, stack_open.wall_s / bare_open.wall_s);
  targets.push_back({"(d) evaluation: wall <= 1.10 x (items / in-flight) x delay",
                     ideal > 0 && ratio(stack_new) <= 1.10,
                     fmt::format("{:.3f} s / {:.3f} s = {:.3f} (connections open: {:.3f})",
                                 stack_new.wall_s, ideal, ratio(stack_new), ratio(stack_open))});
}

// ---------------------------------------------------------------------------------------------
// (e): framework overhead per call at 0 ms

void run_engine_calls(const tg::EnginePtr& engine, int calls) {
  std::atomic<int> left{calls};
  std::promise<void> done;
  for (int i = 0; i < calls; ++i) {
    engine->submit(tg::Request::Text(fmt::format("Item {}: how many objects?", i),
                                     "You answer counting questions.", tg::Phase::kEvaluation),
                   [&](tg::Outcome) {
                     if (left.fetch_sub(1) == 1) done.set_value();
                   });
  }
  done.get_future().wait();
}

// One call at a time, each waiting for its answer: no batching in the transport, every call
// pays its own wake-ups and loopback round trip. The floor under a training step's chain.
void run_serial_calls(const tg::EnginePtr& engine, int calls) {
  for (int i = 0; i < calls; ++i) {
    engine->generate(tg::Request::Text(fmt::format("Item {}: how many objects?", i),
                                       "You answer counting questions.", tg::Phase::kEvaluation));
  }
}

// The floor under that: a request of the same size through libcurl alone, one blocking
// curl_easy_perform() at a time on the calling thread, on one kept-alive connection. No I/O
// thread and no hand-off between threads, no codec, limit or ledger: what a lone call costs
// this machine's kernel, the server's process and libcurl.
class CurlAlone {
 public:
  explicit CurlAlone(const tg::http::HttpRequest& request)
      : curl_(curl_easy_init()), body_(request.body), url_(request.url) {
    for (const auto& [name, value] : request.headers) {
      headers_ = curl_slist_append(headers_, (name + ": " + value).c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body_.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body_.size()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &CurlAlone::keep);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer_);
    run(1);  // opens the connection
  }
  ~CurlAlone() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  CurlAlone(const CurlAlone&) = delete;
  CurlAlone& operator=(const CurlAlone&) = delete;

  void run(int calls) {
    for (int i = 0; i < calls; ++i) {
      answer_.clear();
      if (curl_easy_perform(curl_) != CURLE_OK) throw std::runtime_error("libcurl call failed");
    }
  }

 private:
  static size_t keep(char* data, size_t size, size_t count, void* answer) {
    static_cast<std::string*>(answer)->append(data, size * count);
    return size * count;
  }

  CURL* curl_;
  curl_slist* headers_ = nullptr;
  std::string body_;
  std::string url_;
  std::string answer_;
};

// The machine may be shared with other work: the median of a few runs is steadier than one.
struct Repeated {
  Measurement median;  // by CPU time
  double min_cpu_s = 0;
  double max_cpu_s = 0;
};

Repeated repeat(ServerProcess& server, int runs, const std::function<void(int run)>& body) {
  std::vector<Measurement> all;
  for (int i = 0; i < runs; ++i) all.push_back(measure(server, [&] { body(i); }));
  std::sort(all.begin(), all.end(), [](const Measurement& a, const Measurement& b) {
    return a.cpu.total() < b.cpu.total();
  });
  return {all[all.size() / 2], all.front().cpu.total(), all.back().cpu.total()};
}

void bench_overhead(Bench& bench, std::vector<Target>& targets) {
  const Settings& s = bench.settings;
  const int runs = 3;
  bench.server.set_delay(0);
  const tg::EnginePtr engine = bench.engine(s.in_flight);
  // Warm the connection pool: opening connections is a one-time cost, not a per-call one.
  wait_all(submit_items(engine, 2 * s.in_flight, 0));

  const Repeated raw =
      repeat(bench.server, runs, [&](int) { run_engine_calls(engine, s.overhead_calls); });
  const Repeated graph = repeat(bench.server, runs, [&](int run) {
    wait_all(submit_items(engine, s.overhead_calls, (run + 1) * 1000000));
  });
  const int serial_calls = std::max(1, s.overhead_calls / 5);
  const Repeated serial =
      repeat(bench.server, runs, [&](int) { run_serial_calls(engine, serial_calls); });
  CurlAlone curl_alone(tg::bench::chat_request(bench.base_url()));
  const Repeated alone = repeat(bench.server, runs, [&](int) { curl_alone.run(serial_calls); });
  std::printf(
      "\n(e) overhead at 0 ms: %d calls, at most %d in flight, median of %d runs; CPU = this "
      "process only\n    (user+sys; the server runs in a child)\n",
      s.overhead_calls, s.in_flight, runs);
  std::printf("    %-44s %11s %9s %9s %13s %8s %5s\n", "path", "cpu us/call", "user us", "sys us",
              "range us", "calls/s", "peak");
  auto row = [&](const char* path, const Repeated& r, int calls) {
    const Measurement& m = r.median;
    const double us_per_call = 1e6 / calls;
    std::printf("    %-44s %11.1f %9.1f %9.1f %6.1f-%-6.1f %8.0f %5d\n", path,
                m.cpu.total() * us_per_call, m.cpu.user_s * us_per_call, m.cpu.sys_s * us_per_call,
                r.min_cpu_s * us_per_call, r.max_cpu_s * us_per_call, calls / m.wall_s, m.peak);
  };
  row("engine submit (HTTP + limits + ledger)", raw, s.overhead_calls);
  row("LLMCall -> Variable (graph + the same stack)", graph, s.overhead_calls);
  row("engine generate, one call at a time", serial, serial_calls);
  row("libcurl alone, one blocking call at a time", alone, serial_calls);
  std::printf(
      "    generate / libcurl alone: %.2f\n",
      alone.median.cpu.total() > 0 ? serial.median.cpu.total() / alone.median.cpu.total() : 0);
  tg::bench::print_handoffs("    ");
  const double us_per_call = 1e6 / s.overhead_calls;
  const double per_call = graph.median.cpu.total() * us_per_call;
  targets.push_back({"(e) overhead: < 100 us of our CPU per call (LLMCall path)", per_call < 100,
                     fmt::format("{:.1f} us", per_call)});
  bench.server.set_delay(s.delay_ms);
}

// ---------------------------------------------------------------------------------------------
// Cache: a second identical run, and the cost of a hit

struct CacheRun {
  Measurement m;
  std::string final_prompt;
  tg::CacheCounters counters;
};

CacheRun cached_prompt_run(Bench& bench, const std::string& path, const tg::Request& probe) {
  tg::CacheOptions options;
  options.path = path;
  const tg::EnginePtr engine = tg::with_cache(bench.engine(bench.settings.in_flight), options);
  CacheRun run;
  run.m = measure(bench.server, [&] {
    run.final_prompt = tg::testing::run_prompt_workload(engine, {.steps = 4});
    engine->generate(probe);
  });
  run.counters = tg::cache_counters(*engine).value_or(tg::CacheCounters{});
  return run;
}

double mean_hit_us(Bench& bench, const std::string& path, const tg::Request& probe, int hits) {
  tg::CacheOptions options;
  options.path = path;
  const tg::EnginePtr engine = tg::with_cache(bench.engine(bench.settings.in_flight), options);
  engine->generate(probe);  // the first lookup also opens the file
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < hits; ++i) engine->generate(probe);
  return seconds_since(start) * 1e6 / hits;
}

void bench_cache(Bench& bench, std::vector<Target>& targets) {
  char pattern[] = "/tmp/textgrad-workloads-bench-XXXXXX";
  if (!mkdtemp(pattern)) {
    targets.push_back({"cache", false, "cannot create a temporary directory"});
    return;
  }
  const std::string dir = pattern;
  const std::string path = dir + "/responses.sqlite3";
  const tg::Request probe = tg::Request::Text("Cache probe: how many objects?", "Be brief.");
  // Separate engines, each flushed when it goes: the second run finds only what is on disk.
  const CacheRun first = cached_prompt_run(bench, path, probe);
  const CacheRun second = cached_prompt_run(bench, path, probe);
  const int hits = bench.settings.quick ? 2000 : 10000;
  const std::int64_t before = bench.server.requests();
  const double hit_us = mean_hit_us(bench, path, probe, hits);
  const std::int64_t hit_requests = bench.server.requests() - before;
  std::filesystem::remove_all(dir);

  std::printf(
      "\nCache: workload (b) string metric + one probe request, twice, on a new cache "
      "file\n");
  auto line = [](const char* which, const CacheRun& run) {
    std::printf(
        "    %s %3lld HTTP requests, wall %.3f s  (cache: %lld hits, %lld misses, "
        "%lld coalesced)\n",
        which, static_cast<long long>(run.m.calls), run.m.wall_s,
        static_cast<long long>(run.counters.hits), static_cast<long long>(run.counters.misses),
        static_cast<long long>(run.counters.coalesced));
  };
  line("first run: ", first);
  line("second run:", second);
  std::printf("    same final prompt: %s\n",
              first.final_prompt == second.final_prompt ? "yes" : "NO");
  std::printf(
      "    cache hit (generate() of a cached request, %d times): mean %.1f us, "
      "%lld HTTP requests\n",
      hits, hit_us, static_cast<long long>(hit_requests));
  targets.push_back({"cache: a second identical run makes zero HTTP requests",
                     second.m.calls == 0 && first.final_prompt == second.final_prompt,
                     fmt::format("{} requests", second.m.calls)});
  targets.push_back({"cache: a hit costs < 100 us", hit_us < 100 && hit_requests == 0,
                     fmt::format("{:.1f} us", hit_us)});
}

void run(const Settings& settings) {
  // Forked before any thread exists here; one server thread per connection, plus headroom.
  ServerProcess server(std::max(300, settings.in_flight + 64), answer);
  server.set_delay(settings.delay_ms);
  Bench bench{server, tg::make_transport(std::max(512, 2 * settings.in_flight)), settings};

  std::printf(
      "textgrad-cpp workloads benchmark: delay %d ms, eval %d items, in flight %d, "
      "overhead %d calls%s\n",
      settings.delay_ms, settings.eval_items, settings.in_flight, settings.overhead_calls,
      settings.quick ? " (quick)" : "");
  std::vector<Target> targets;
  try {
    bench_workloads(bench, targets);
    bench_evaluation(bench, targets);
    bench_overhead(bench, targets);
    bench_cache(bench, targets);
  } catch (const std::exception& e) {
    std::printf("\nbenchmark stopped: %s\n", e.what());
  }
  if (settings.delay_ms != 200) {
    std::printf("\nNote: the (a)-(d) targets are defined at 200 ms; this run used %d ms.\n",
                settings.delay_ms);
  }
  std::printf("\nTargets:\n");
  for (const Target& t : targets) {
    std::printf("%s  %-62s %s\n", t.pass ? "PASS" : "FAIL", t.name.c_str(), t.detail.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  if (!parse(argc, argv, settings)) {
    std::fprintf(stderr,
                 "usage: %s [--delay-ms 200] [--eval-items 1000] [--in-flight 256] "
                 "[--overhead-calls 5000] [--quick]\n",
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
