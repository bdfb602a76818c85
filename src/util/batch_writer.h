// A thread that writes what other threads hand it, in batches.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace tg::util {

// Note [Writes off the I/O thread]
// Completion callbacks run on a transport's I/O thread, which serves every request in flight:
// a file write or an SQLite transaction there delays every answer behind it. Recorders (the
// CLI's event log and trace) therefore only copy what they need into a BatchWriter; its own
// thread takes everything queued at once and writes it as one batch (one transaction, one
// append), so a burst of answers costs one write, not one per answer. Items are written in
// the order they were pushed.

// Thread-safe. `write` runs on the writer's thread only, one batch at a time, and must not
// throw (keep the first failure and report it elsewhere). The destructor writes everything
// pushed before it, then joins the thread.
template <typename T>
class BatchWriter {
 public:
  explicit BatchWriter(std::function<void(std::vector<T>&)> write)
      : write_(std::move(write)), thread_([this] { loop(); }) {}
  ~BatchWriter() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    queued_cv_.notify_all();
    thread_.join();
  }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Never blocks on the writing.
  void push(T item) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(item));
      ++pushed_;
    }
    queued_cv_.notify_one();
  }

  // Returns once everything pushed before the call is written. Not from `write` itself.
  void flush() {
    std::unique_lock lock(mu_);
    const std::uint64_t target = pushed_;
    written_cv_.wait(lock, [&] { return written_ >= target; });
  }

 private:
  void loop() {
    std::vector<T> batch;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        queued_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything is written
        batch.swap(queue_);
      }
      write_(batch);
      {
        std::lock_guard lock(mu_);
        written_ += batch.size();
      }
      written_cv_.notify_all();
      batch.clear();
    }
  }

  const std::function<void(std::vector<T>&)> write_;
  std::mutex mu_;
  std::condition_variable queued_cv_;
  std::condition_variable written_cv_;
  std::vector<T> queue_;
  std::uint64_t pushed_ = 0;
  std::uint64_t written_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts running loop() at construction
};

}  // namespace tg::util
