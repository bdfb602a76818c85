// Transport throughput: N requests through one Transport, at most K in flight, against a
// local fake LLM server that answers each after D ms. With enough connections the transport
// should approach the ideal K / D requests per second on a single I/O thread.
//
//   textgrad_transport_bench [--requests N] [--delay-ms D] [--in-flight K]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "http/transport.h"
#include "support/fake_llm_server.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  int requests = 2048;
  int delay_ms = 200;
  int in_flight = 256;
};

bool parse(int argc, char** argv, Settings& settings) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (value <= 0) return false;
    if (std::strcmp(argv[i], "--requests") == 0) {
      settings.requests = value;
    } else if (std::strcmp(argv[i], "--delay-ms") == 0) {
      settings.delay_ms = value;
    } else if (std::strcmp(argv[i], "--in-flight") == 0) {
      settings.in_flight = value;
    } else {
      return false;
    }
  }
  return argc % 2 == 1;
}

tg::http::HttpRequest chat_request(const std::string& base_url) {
  tg::http::HttpRequest request;
  request.url = base_url + "/v1/chat/completions";
  request.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer bench"}};
  request.body = R"({"model":"gpt-4o","max_completion_tokens":2000,"temperature":0,)"
                 R"("messages":[{"role":"system","content":"You are a helpful assistant."},)"
                 R"({"role":"user","content":"Count the objects: a apple, two bananas."}]})";
  request.connect_timeout_s = 10;
  request.total_timeout_s = 60;
  return request;
}

// Keeps `in_flight` requests outstanding: every completion sends the next one.
class Driver {
 public:
  Driver(tg::http::Transport& transport, tg::http::HttpRequest request, int total)
      : transport_(transport), request_(std::move(request)), total_(total) {
    latencies_ms_.reserve(static_cast<std::size_t>(total));
  }

  void run(int in_flight) {
    for (int i = 0; i < std::min(in_flight, total_); ++i) launch();
    done_.get_future().wait();
  }

  int errors() const { return errors_.load(); }

  double percentile(double p) {
    std::lock_guard lock(mutex_);
    if (latencies_ms_.empty()) return 0;
    std::sort(latencies_ms_.begin(), latencies_ms_.end());
    const auto at = static_cast<std::size_t>(p * static_cast<double>(latencies_ms_.size() - 1));
    return latencies_ms_[at];
  }

 private:
  void launch() {
    if (started_.fetch_add(1) >= total_) return;
    transport_.send(request_, [this](tg::http::TransportResult result) { on_done(result); });
  }

  void on_done(const tg::http::TransportResult& result) {
    if (!result.ok() || result.response.status != 200) {
      ++errors_;
    } else {
      std::lock_guard lock(mutex_);
      latencies_ms_.push_back(result.response.elapsed_ms);
    }
    if (finished_.fetch_add(1) + 1 == total_) {
      done_.set_value();
      return;
    }
    launch();
  }

  tg::http::Transport& transport_;
  const tg::http::HttpRequest request_;
  const int total_;
  std::atomic<int> started_{0};
  std::atomic<int> finished_{0};
  std::atomic<int> errors_{0};
  std::promise<void> done_;
  std::mutex mutex_;
  std::vector<double> latencies_ms_;
};

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  if (!parse(argc, argv, settings)) {
    std::fprintf(stderr, "usage: %s [--requests N] [--delay-ms D] [--in-flight K]\n", argv[0]);
    return 2;
  }
  const auto delay = std::chrono::milliseconds(settings.delay_ms);
  // One server thread per connection (HTTP/1.1 keep-alive), plus headroom.
  tg::fake::FakeLlmServer server(
      [delay](const tg::fake::RecordedRequest&) {
        return tg::fake::openai_reply("There are 3 objects.").with_delay(delay);
      },
      settings.in_flight + 16);
  tg::http::TransportOptions options;
  options.max_host_connections = std::max(512, settings.in_flight);
  tg::http::Transport transport(options);

  Driver driver(transport, chat_request(server.base_url()), settings.requests);
  const auto start = Clock::now();
  driver.run(settings.in_flight);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  const double rate = settings.requests / seconds;
  const double ideal = settings.in_flight / (settings.delay_ms / 1000.0);
  std::printf("%-34s %12s\n", "metric", "value");
  std::printf("%-34s %12d\n", "requests", settings.requests);
  std::printf("%-34s %12d\n", "in-flight limit (client)", settings.in_flight);
  std::printf("%-34s %12d\n", "server delay per answer (ms)", settings.delay_ms);
  std::printf("%-34s %12.2f\n", "wall time (s)", seconds);
  std::printf("%-34s %12.1f\n", "throughput (requests/s)", rate);
  std::printf("%-34s %12.1f\n", "ideal in_flight/latency (req/s)", ideal);
  std::printf("%-34s %11.1f%%\n", "efficiency", 100.0 * rate / ideal);
  std::printf("%-34s %12d\n", "peak in flight (seen by server)", server.peak_in_flight());
  std::printf("%-34s %12.1f\n", "latency p50 (ms)", driver.percentile(0.50));
  std::printf("%-34s %12.1f\n", "latency p99 (ms)", driver.percentile(0.99));
  std::printf("%-34s %12d\n", "errors", driver.errors());
  return driver.errors() == 0 ? 0 : 1;
}
