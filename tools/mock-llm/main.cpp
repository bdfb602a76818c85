// textgrad-mock-llm: a local OpenAI-shaped server with scripted answers, so the main job can
// be seen end to end without an API key. Its numbers are a demonstration, not a result.
//   textgrad-mock-llm DATA_DIR PORT_FILE [DELAY_MS [THREADS]]
// THREADS (default 64) bounds the requests answered at once: one thread per connection.
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "support/fake_llm_server.h"
#include "support/mock_model.h"

namespace {
volatile std::sig_atomic_t stop = 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: textgrad-mock-llm DATA_DIR PORT_FILE [DELAY_MS [THREADS]]\n";
    return 2;
  }
  std::signal(SIGTERM, [](int) { stop = 1; });
  std::signal(SIGINT, [](int) { stop = 1; });
  const int delay_ms = argc > 3 ? std::stoi(argv[3]) : 0;
  const int threads = argc > 4 ? std::stoi(argv[4]) : 64;
  // Answers name the mock as their model, so no price table prices them as a real model.
  tg::fake::FakeLlmServer server(tg::testing::MockModel(argv[1], delay_ms, "textgrad-mock-llm"),
                                 threads);
  server.set_keep_requests(false);  // it may serve for hours
  std::ofstream(argv[2]) << server.port() << "\n";
  while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}
