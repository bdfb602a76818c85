// Response cache micro-benchmark: the cost of a hit, of a miss, and of storing an answer.
//
//   cache_bench [entries=10000] [hits=100000] [prompt_bytes=2000]
//
// Warms `entries` answers into a fresh cache in a temporary directory (inner engine: a
// scripted echo, so the numbers are the cache's own overhead), then times `hits` lookups
// of random warmed requests through a new engine instance, so they come from the file.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "textgrad/cache.h"
#include "textgrad/scripted_engine.h"

namespace {

using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Summary {
  double mean = 0, p50 = 0, p99 = 0;
};

Summary summarize(std::vector<double> samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / samples.size();
  s.p50 = samples[samples.size() / 2];
  s.p99 = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  return s;
}

void print(const char* what, const Summary& s) {
  std::printf("%-44s mean %8.2f us   p50 %8.2f us   p99 %8.2f us\n", what, s.mean, s.p50, s.p99);
}

std::string prompt(int i, size_t bytes) {
  std::string text = "question " + std::to_string(i) + ": ";
  text.resize(std::max(bytes, text.size()), 'x');
  return text;
}

tg::Request request(int i, size_t bytes) {
  return tg::Request::Text(prompt(i, bytes), "You are a concise assistant.");
}

}  // namespace

int main(int argc, char** argv) {
  const int entries = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int hits = argc > 2 ? std::atoi(argv[2]) : 100000;
  const size_t prompt_bytes = argc > 3 ? static_cast<size_t>(std::atoll(argv[3])) : 2000;
  if (entries <= 0 || hits <= 0) {
    std::fprintf(stderr, "usage: cache_bench [entries>0] [hits>0] [prompt_bytes]\n");
    return 2;
  }

  char pattern[] = "/tmp/textgrad-cache-bench-XXXXXX";
  if (!mkdtemp(pattern)) return 1;
  const std::string dir = pattern;
  tg::CacheOptions options;
  options.path = dir + "/responses.sqlite3";
  std::printf("cache_bench: %d entries, %d hits, %zu-byte prompts, %s\n", entries, hits,
              prompt_bytes, options.path.c_str());

  auto inner = tg::ScriptedEngine::echo();

  // Key computation alone: SHA-256 of the serialized request.
  {
    tg::EngineInfo info = inner->info();
    tg::Request r = request(0, prompt_bytes);
    std::vector<double> samples;
    for (int i = 0; i < 10000; ++i) {
      auto start = Clock::now();
      std::string key = tg::cache_key(info, r);
      samples.push_back(micros(Clock::now() - start));
    }
    print("key (SHA-256 of the request)", summarize(samples));
  }

  // Misses: what the caller waits for (the write happens on the cache's own thread).
  double warm_total_us = 0;
  {
    tg::CachingEngine engine(inner, options);
    std::vector<double> samples;
    auto warm_start = Clock::now();
    for (int i = 0; i < entries; ++i) {
      tg::Request r = request(i, prompt_bytes);
      auto start = Clock::now();
      engine.generate(std::move(r));
      samples.push_back(micros(Clock::now() - start));
    }
    engine.flush();
    warm_total_us = micros(Clock::now() - warm_start);
    print("miss, caller's view (echo engine)", summarize(samples));
    std::printf("%-44s %8.2f us per entry (%d entries, batched commits)\n",
                "miss + store, throughput", warm_total_us / entries, entries);

    // Stored one at a time: each answer its own transaction, waited for.
    std::vector<double> single;
    for (int i = 0; i < std::min(entries, 1000); ++i) {
      tg::Request r = request(entries + i, prompt_bytes);
      auto start = Clock::now();
      engine.generate(std::move(r));
      engine.flush();
      single.push_back(micros(Clock::now() - start));
    }
    print("miss + store, one commit each, waited for", summarize(single));
  }

  // Hits through a new engine instance: every answer comes from the file.
  {
    tg::CachingEngine engine(inner, options);
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> pick(0, entries - 1);
    std::vector<tg::Request> requests;
    requests.reserve(1000);
    for (int i = 0; i < 1000; ++i) requests.push_back(request(pick(rng), prompt_bytes));

    std::vector<double> via_generate, via_submit;
    via_generate.reserve(hits);
    via_submit.reserve(hits);
    size_t answered = 0;
    for (int i = 0; i < hits; ++i) {
      tg::Request r = requests[i % requests.size()];
      auto start = Clock::now();
      tg::Response response = engine.generate(std::move(r));
      via_generate.push_back(micros(Clock::now() - start));
      answered += response.from_cache ? 1 : 0;
    }
    for (int i = 0; i < hits; ++i) {
      tg::Request r = requests[i % requests.size()];
      auto start = Clock::now();
      engine.submit(std::move(r), [&](tg::Outcome o) { answered += o.response.from_cache; });
      via_submit.push_back(micros(Clock::now() - start));
    }
    print("hit via generate()", summarize(via_generate));
    print("hit via submit() (answer inline)", summarize(via_submit));
    if (answered != static_cast<size_t>(2 * hits) ||
        inner->calls() != entries + std::min(entries, 1000)) {
      std::fprintf(stderr, "unexpected: %zu of %d lookups were hits, %d inner calls\n", answered,
                   2 * hits, inner->calls());
      return 1;
    }
  }

  tg::CacheStats stats = tg::cache_stats(options.path);
  std::printf("file: %lld entries, %.1f MB\n", static_cast<long long>(stats.entries),
              stats.bytes / 1e6);
  std::filesystem::remove_all(dir);
  return 0;
}
