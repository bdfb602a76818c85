// Transport throughput: N requests through one Transport, at most K in flight, against a
// local fake LLM server that answers each after D ms. With enough connections the transport
// should approach the ideal K / D requests per second on a single I/O thread.
//
//   textgrad_transport_bench [--requests N] [--delay-ms D] [--in-flight K]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "http/transport.h"
#include "support/fake_llm_server.h"
#include "transport_driver.h"

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

  tg::bench::Driver driver(transport, tg::bench::chat_request(server.base_url()),
                           settings.requests);
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
