// textgrad-fake-openai: a local OpenAI-shaped server for the Python tests, with the same
// deterministic answers the C++ workload tests use, plus a control API:
//   GET  /_stats  {"requests", "peak_in_flight", "digest", "last_update", "gate_opened"}
//   POST /_reset  forgets the requests seen so far
// Usage:
//   textgrad-fake-openai [--delay-ms N] [--gate N]   prints "PORT <port>", serves until stdin
//                                                     closes
//   textgrad-fake-openai --reference-workloads       runs the C++ workloads against itself
//                                                     and prints their stats as JSON
//   textgrad-fake-openai --client URL --steps N [--serial]
//                                                     runs workload (b) against another server
//                                                     and prints its CPU and wall time (for
//                                                     python/bench/overhead.py)
// --gate N holds the first N requests until N have arrived (or 30 s passed), so a test can
// prove that N requests were in flight at once without relying on timing.
#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/fake_llm_server.h"
#include "support/workloads.h"
#include "textgrad/engines.h"
#include "textgrad/limits.h"

namespace {

using tg::testing::fnv1a;

class Service {
 public:
  Service(int delay_ms, int gate) : delay_ms_(delay_ms), gate_(gate) {}

  tg::fake::FakeReply operator()(const tg::fake::RecordedRequest& request) {
    if (request.path == "/_stats") return stats();
    if (request.path == "/_reset") {
      std::lock_guard lock(mu_);
      hashes_.clear();
      last_update_.clear();
      return {200, "{}"};
    }
    pass_gate();
    nlohmann::json body = request.json();
    const nlohmann::json& messages = body["messages"];
    const std::string system =
        messages[0]["role"] == "system" ? messages[0]["content"].get<std::string>() : "";
    const std::uint64_t hash = fnv1a(messages.dump()) % 65536;
    std::string answer;
    bool update = false;
    if (system.find("optimization system that improves text") != std::string::npos) {
      answer = fmt::format("<IMPROVED_VARIABLE>better value {:x}</IMPROVED_VARIABLE>", hash);
      update = true;
    } else if (request.body.find("ACCURACY") != std::string::npos) {
      answer = "<ACCURACY>1</ACCURACY>";
    } else if (system.find("feedback engine") != std::string::npos) {
      answer = fmt::format("Be more explicit ({:x}).", hash);
    } else {
      answer = fmt::format("Reasoning {:x}. Answer: 4", hash);
    }
    {
      std::lock_guard lock(mu_);
      hashes_.push_back(fnv1a(request.body));
      if (update) last_update_ = answer;
    }
    return tg::fake::openai_reply(answer).with_delay(std::chrono::milliseconds(delay_ms_));
  }

  void set_server(tg::fake::FakeLlmServer* server) { server_ = server; }

  nlohmann::json snapshot() {
    std::lock_guard lock(mu_);
    std::vector<std::uint64_t> sorted = hashes_;
    std::sort(sorted.begin(), sorted.end());
    std::string joined;
    for (std::uint64_t h : sorted) joined += fmt::format("{:016x}", h);
    return {{"requests", hashes_.size()},
            {"peak_in_flight", server_ ? server_->peak_in_flight() : 0},
            {"digest", fmt::format("{:016x}", fnv1a(joined))},
            {"last_update", last_update_},
            {"gate_opened", gate_ == 0 || arrived_ >= gate_}};
  }

 private:
  tg::fake::FakeReply stats() { return {200, snapshot().dump()}; }

  void pass_gate() {
    std::unique_lock lock(mu_);
    if (gate_ == 0 || arrived_ >= gate_) return;
    if (++arrived_ >= gate_) {
      opened_.notify_all();
      return;
    }
    opened_.wait_for(lock, std::chrono::seconds(30), [&] { return arrived_ >= gate_; });
  }

  const int delay_ms_;
  const int gate_;
  std::mutex mu_;
  std::condition_variable opened_;
  int arrived_ = 0;
  std::vector<std::uint64_t> hashes_;
  std::string last_update_;
  tg::fake::FakeLlmServer* server_ = nullptr;
};

// The C++ side of the comparison: the shared workloads through make_engine and HTTP.
int run_reference_workloads(Service& service, tg::fake::FakeLlmServer& server) {
  tg::EngineOptions options;
  options.api_key = "fake-python-test-key-0123";
  options.base_url = server.base_url() + "/v1";
  tg::EnginePtr engine = tg::make_engine("openai/gpt-4o", options);
  nlohmann::json out;
  auto record = [&](const char* name, auto run) {
    std::string final_prompt = run();
    nlohmann::json stats = service.snapshot();
    stats.erase("peak_in_flight");
    stats.erase("gate_opened");
    if (!final_prompt.empty()) stats["final_prompt"] = final_prompt;
    out[name] = stats;
    service(tg::fake::RecordedRequest{.path = "/_reset"});
  };
  record("solution", [&] {
    tg::testing::run_solution_workload(engine, {.steps = 2});
    return std::string();
  });
  record("prompt", [&] { return tg::testing::run_prompt_workload(engine, {.steps = 2}); });
  record("prompt_judge",
         [&] { return tg::testing::run_prompt_workload(engine, {.steps = 2, .llm_judge = true}); });
  record("chain", [&] {
    tg::testing::run_chain_workload(engine, {.steps = 2});
    return std::string();
  });
  std::cout << out.dump() << std::endl;
  return 0;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The C++ side of python/bench/overhead.py: the same workload and engine stack as the Python
// side, measured the same way.
int run_client(const std::string& base_url, int steps, bool serial) {
  tg::EngineOptions options;
  options.api_key = "fake-python-test-key-0123";
  options.base_url = base_url + "/v1";
  tg::EnginePtr engine = tg::make_engine("openai/gpt-4o", options);
  if (serial) engine = tg::with_limits(engine, {.max_in_flight = 1});
  const int concurrency = serial ? 1 : 8;
  tg::testing::run_prompt_workload(engine, {.steps = 1, .concurrency = concurrency});  // warm-up
  const double cpu_start = cpu_seconds();
  const auto wall_start = std::chrono::steady_clock::now();
  tg::testing::run_prompt_workload(engine, {.steps = steps, .concurrency = concurrency});
  const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - wall_start;
  std::cout << nlohmann::json{{"calls", 10 * steps},
                              {"cpu_s", cpu_seconds() - cpu_start},
                              {"wall_s", wall.count()}}
                   .dump()
            << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int delay_ms = 0, gate = 0;
  bool reference = false, serial = false;
  int steps = 10;
  std::string client;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--client" && i + 1 < argc) {
      client = argv[++i];
    } else if (arg == "--steps" && i + 1 < argc) {
      steps = std::stoi(argv[++i]);
    } else if (arg == "--serial") {
      serial = true;
    } else if (arg == "--delay-ms" && i + 1 < argc) {
      delay_ms = std::stoi(argv[++i]);
    } else if (arg == "--gate" && i + 1 < argc) {
      gate = std::stoi(argv[++i]);
    } else if (arg == "--reference-workloads") {
      reference = true;
    } else {
      std::cerr << "usage: textgrad-fake-openai [--delay-ms N] [--gate N] [--reference-workloads]\n"
                   "       textgrad-fake-openai --client URL [--steps N] [--serial]\n";
      return 2;
    }
  }
  if (!client.empty()) return run_client(client, steps, serial);
  Service service(delay_ms, gate);
  tg::fake::FakeLlmServer server([&](const auto& request) { return service(request); }, 48);
  service.set_server(&server);
  if (reference) return run_reference_workloads(service, server);
  std::cout << "PORT " << server.port() << std::endl;
  // Serve until the test closes our stdin (or exits).
  for (std::string line; std::getline(std::cin, line);) {
  }
}
