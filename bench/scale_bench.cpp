// Scale-out benchmark: endpoint pools, processes sharing the Redis cache, sharded evaluation
// and the cost of a Redis cache hit against a SQLite one.
//
//   scale_bench [runs=3] [sections=1234]   e.g. `scale_bench 5 4` runs only section 4
//
// 1. Pool: 96 distinct requests through a pool of 1, 2 and 4 local servers that answer in
//    200 ms, each endpoint limited to 8 requests in flight: calls per second.
// 2. Processes: 1, 2 and 4 `textgrad eval` processes sharing one Redis cache, on the same 40
//    items (duplicate requests sent, wall time), and on N shards of 96 items (items/s).
// 3. Hits: the cost of one cache hit through generate(), Redis against SQLite.
// 4. Evaluation workers: `textgrad optimize --eval-workers` evaluating 96 test items with 1,
//    2 and 4 `textgrad worker` processes (4 requests in flight each), against the same
//    evaluation in the optimizer alone with 4 in flight: items/s, duplicate requests sent.
// Medians of `runs` runs; everything on 127.0.0.1.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "support/redis_server.h"
#include "textgrad/cache.h"
#include "textgrad/endpoint_pool.h"
#include "textgrad/engines.h"
#include "textgrad/limits.h"
#include "textgrad/redis_cache.h"
#include "textgrad/scripted_engine.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kAnswerDelay = std::chrono::milliseconds(200);

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string tool_path() {
  return (std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "tools" /
          "textgrad" / "textgrad")
      .string();
}

// --- 1. endpoint pools ---

double pool_calls_per_second(int endpoints, int requests) {
  std::vector<std::unique_ptr<tg::fake::FakeLlmServer>> servers;
  std::vector<tg::PoolEndpoint> members;
  for (int i = 0; i < endpoints; ++i) {
    servers.push_back(std::make_unique<tg::fake::FakeLlmServer>(
        [](const tg::fake::RecordedRequest& r) {
          return tg::fake::reply_for(r, "ok").with_delay(kAnswerDelay);
        },
        16));
    tg::EngineOptions options;
    options.api_key = "fake-bench-key-0123456789";
    options.base_url = servers.back()->base_url() + "/v1";
    options.max_retries = 0;
    tg::EnginePtr engine =
        tg::with_limits(tg::make_engine("openai/gpt-4o-mini", options), {.max_in_flight = 8});
    members.push_back({engine, options.base_url, 8});
  }
  tg::EnginePtr pool = tg::make_endpoint_pool(std::move(members));
  std::vector<std::future<tg::Outcome>> answers;
  auto start = Clock::now();
  for (int i = 0; i < requests; ++i) {
    auto promise = std::make_shared<std::promise<tg::Outcome>>();
    answers.push_back(promise->get_future());
    pool->submit(tg::Request::Text("item " + std::to_string(i)),
                 [promise](tg::Outcome o) { promise->set_value(std::move(o)); });
  }
  for (auto& a : answers) {
    if (!a.get().ok()) std::fprintf(stderr, "a pooled request failed\n");
  }
  return requests / seconds(Clock::now() - start);
}

// --- 2. processes sharing Redis ---

struct ProcessRun {
  double wall_s = 0;
  std::size_t sent = 0;  // requests the model server received
};

ProcessRun run_processes(const std::string& redis_url, int processes, bool sharded, int items,
                         int in_flight, const std::string& cache_dir) {
  tg::fake::FakeLlmServer server(
      tg::testing::MockModel(TEXTGRAD_SOURCE_DIR "/data", static_cast<int>(kAnswerDelay.count())),
      64);
  std::map<std::string, std::string> env{{"OPENAI_API_KEY", "fake-bench-key-0123456789"},
                                         {"OPENAI_BASE_URL", server.base_url() + "/v1"},
                                         {"TEXTGRAD_CACHE_DIR", cache_dir},
                                         {"TEXTGRAD_DATA_DIR", TEXTGRAD_SOURCE_DIR "/data"}};
  tg::testing::TempDir shards;
  std::vector<std::unique_ptr<tg::testing::Process>> running;
  auto start = Clock::now();
  for (int p = 0; p < processes; ++p) {
    std::vector<std::string> args{tool_path(),
                                  "eval",
                                  "--task",
                                  "object_counting",
                                  "--engine",
                                  "openai/gpt-4o-mini",
                                  "--size",
                                  std::to_string(items),
                                  "--quiet",
                                  "--max-in-flight",
                                  std::to_string(in_flight),
                                  "--cache",
                                  redis_url};
    if (sharded) {
      args.insert(args.end(), {"--shard", std::to_string(p) + "/" + std::to_string(processes),
                               "--shard-dir", shards.path()});
    }
    running.push_back(std::make_unique<tg::testing::Process>(args, env));
  }
  for (auto& process : running) {
    tg::testing::ProcessResult r = process->wait();
    if (r.exit_code != 0) std::fprintf(stderr, "eval failed: %s\n", r.err.c_str());
  }
  return {seconds(Clock::now() - start), server.request_count()};
}

// --- 4. evaluation workers ---

std::string fmt_workers(int workers) {
  return std::to_string(workers) + (workers == 1 ? " worker        " : " workers       ");
}

struct WorkersRun {
  double items_per_s = 0;
  std::size_t duplicates = 0;  // requests beyond one per item
};

// The optimizer's step-0 evaluation of `items` test items (no training, no validation).
std::vector<std::string> evaluation_only(const std::string& run_dir, int items,
                                         const std::string& queue) {
  std::vector<std::string> args{tool_path(),       "optimize",
                                "--task",          "object_counting",
                                "--engine",        "openai/gpt-4o-mini",
                                "--steps",         "0",
                                "--val-size",      "0",
                                "--test-size",     std::to_string(items),
                                "--no-cache",      "--quiet",
                                "--run-dir",       run_dir,
                                "--max-in-flight", "4"};
  if (!queue.empty()) args.insert(args.end(), {"--eval-workers", queue});
  return args;
}

// workers == 0: the optimizer alone.
WorkersRun run_workers(const std::string& redis_url, int workers, int items, int runs) {
  tg::fake::FakeLlmServer server(
      tg::testing::MockModel(TEXTGRAD_SOURCE_DIR "/data", static_cast<int>(kAnswerDelay.count())),
      64);
  std::map<std::string, std::string> env{{"OPENAI_API_KEY", "fake-bench-key-0123456789"},
                                         {"OPENAI_BASE_URL", server.base_url() + "/v1"},
                                         {"TEXTGRAD_DATA_DIR", TEXTGRAD_SOURCE_DIR "/data"}};
  const std::string queue = workers == 0 ? "" : redis_url + "?wait_s=60&items=4";
  std::vector<std::unique_ptr<tg::testing::Process>> running;
  for (int w = 0; w < workers; ++w) {
    running.push_back(std::make_unique<tg::testing::Process>(
        std::vector<std::string>{tool_path(), "worker", "--queue", queue, "--engine",
                                 "openai/gpt-4o-mini", "--no-cache", "--jobs", "1", "--quiet"},
        env));
  }
  tg::testing::TempDir dir;
  // A small evaluation first, so every worker is up before the clock starts.
  tg::testing::run_process(evaluation_only(dir.file("warm"), 4 * std::max(workers, 1), queue), env);
  std::vector<double> rates;
  std::size_t duplicates = 0;
  for (int r = 0; r < runs; ++r) {
    const std::size_t before = server.request_count();
    auto start = Clock::now();
    tg::testing::ProcessResult result = tg::testing::run_process(
        evaluation_only(dir.file("run" + std::to_string(r)), items, queue), env);
    rates.push_back(items / seconds(Clock::now() - start));
    if (result.exit_code != 0) std::fprintf(stderr, "optimize failed: %s\n", result.err.c_str());
    const std::size_t sent = server.request_count() - before;
    duplicates = std::max(duplicates, sent - std::min<std::size_t>(sent, items));
  }
  for (auto& worker : running) ::kill(worker->pid(), SIGTERM);
  for (auto& worker : running) worker->wait();
  return {median(rates), duplicates};
}

// --- 3. hit cost ---

double hit_micros(const tg::CacheOptions& options, int entries, int hits) {
  auto inner = tg::ScriptedEngine::echo();
  {
    tg::EnginePtr warm = tg::with_cache(inner, options);
    for (int i = 0; i < entries; ++i) warm->generate("question " + std::to_string(i));
  }
  tg::EnginePtr cached = tg::with_cache(inner, options);
  std::vector<double> samples;
  for (int i = 0; i < hits; ++i) {
    auto start = Clock::now();
    tg::Response r = cached->generate("question " + std::to_string(i % entries));
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!r.from_cache) std::fprintf(stderr, "expected a hit\n");
  }
  return median(samples);
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const std::string sections = argc > 2 ? argv[2] : "1234";
  auto wanted = [&](char section) { return sections.find(section) != std::string::npos; };
  if (tg::testing::RedisServer::program().empty()) {
    std::fprintf(stderr, "redis-server is not installed: run scripts/setup.sh\n");
    return 1;
  }
  tg::testing::RedisServer redis;
  tg::testing::TempDir dir;

  if (wanted('1')) {
    std::printf("1. Endpoint pool, 96 requests, 200 ms per answer, 8 in flight per endpoint\n");
    double one = 0;
    for (int endpoints : {1, 2, 4}) {
      std::vector<double> rates;
      for (int r = 0; r < runs; ++r) rates.push_back(pool_calls_per_second(endpoints, 96));
      double rate = median(rates);
      if (endpoints == 1) one = rate;
      std::printf("   %d endpoint(s): %6.1f calls/s  (x%.2f)\n", endpoints, rate, rate / one);
    }
  }
  if (wanted('2')) {
    std::printf("2. textgrad eval processes sharing one Redis cache, 200 ms per answer\n");
    int db = 0;
    for (int processes : {1, 2, 4}) {
      std::vector<double> walls;
      std::size_t worst_duplicates = 0;
      for (int r = 0; r < runs; ++r) {
        ++db;  // a fresh namespace: every run starts from an empty cache
        ProcessRun run = run_processes(redis.url() + "?prefix=same" + std::to_string(db) + ":",
                                       processes, false, 40, 8, dir.file("c"));
        walls.push_back(run.wall_s);
        worst_duplicates =
            std::max(worst_duplicates, run.sent - std::min<std::size_t>(run.sent, 40));
      }
      std::printf("   same 40 items, %d process(es): %5.2f s wall, duplicate requests sent: %zu\n",
                  processes, median(walls), worst_duplicates);
    }
    double single_rate = 0;
    for (int processes : {1, 2, 4}) {
      std::vector<double> rates;
      for (int r = 0; r < runs; ++r) {
        ProcessRun run = run_processes(redis.url() + "?prefix=shard" + std::to_string(++db) + ":",
                                       processes, true, 96, 4, dir.file("c"));
        rates.push_back(96 / run.wall_s);
      }
      double rate = median(rates);
      if (processes == 1) single_rate = rate;
      std::printf("   96 items in %d shard process(es), 4 in flight each: %6.1f items/s  (x%.2f)\n",
                  processes, rate, rate / single_rate);
    }
  }
  if (wanted('3')) {
    std::printf("3. One cache hit through generate() (median of 20000, 2000 entries)\n");
    std::vector<double> sqlite, redis_hits;
    for (int r = 0; r < runs; ++r) {
      sqlite.push_back(
          hit_micros({.path = dir.file("hits" + std::to_string(r) + ".sqlite3")}, 2000, 20000));
      redis_hits.push_back(hit_micros(
          {.path = redis.url(15) + "?prefix=hits" + std::to_string(r) + ":"}, 2000, 20000));
    }
    std::printf("   SQLite: %7.1f us   Redis: %7.1f us   (Redis/SQLite x%.1f)\n", median(sqlite),
                median(redis_hits), median(redis_hits) / median(sqlite));
  }
  if (wanted('4')) {
    std::printf("4. optimize --eval-workers: 96 test items, 200 ms per answer, 4 in flight each\n");
    double alone = 0;
    for (int workers : {0, 1, 2, 4}) {
      WorkersRun run = run_workers(redis.url(14), workers, 96, runs);
      if (workers == 0) alone = run.items_per_s;
      std::printf("   %s: %6.1f items/s  (x%.2f), duplicate requests sent: %zu\n",
                  workers == 0 ? "optimizer alone " : fmt_workers(workers).c_str(), run.items_per_s,
                  run.items_per_s / alone, run.duplicates);
    }
  }
  return 0;
}
