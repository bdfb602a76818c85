// Drives a Transport directly: N requests, at most K in flight, every completion sending the
// next one. The transport benchmark measures with it, and the workloads benchmark runs its
// evaluation (d) through it too, to show what the transport alone achieves beside the stack.
#pragma once

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "http/transport.h"

namespace tg::bench {

// A short chat completion request, as the OpenAI engine would send it.
inline tg::http::HttpRequest chat_request(const std::string& base_url) {
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

}  // namespace tg::bench
