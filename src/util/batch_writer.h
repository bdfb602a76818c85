// A thread that writes what other threads hand it, in batches.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
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
//
// A writer that woke for every item would still cost a thread switch and a write per answer
// when answers trickle in one at a time. So the writer lingers: once something is queued it
// waits up to `linger` for more (or until a batch is full, a flush() waits, or the writer is
// being destroyed) before it writes, and push() wakes it only when the queue was empty or has
// filled a batch. A linger delays a record by at most that long; flush() never waits for it.

// Thread-safe. `write` runs on the writer's thread only, one batch at a time, and must not
// throw (keep the first failure and report it elsewhere). The destructor writes everything
// pushed before it, then joins the thread.
template <typename T>
class BatchWriter {
 public:
  static constexpr std::chrono::milliseconds kDefaultLinger{10};
  static constexpr std::size_t kFullBatch = 256;

  explicit BatchWriter(std::function<void(std::vector<T>&)> write,
                       std::chrono::milliseconds linger = kDefaultLinger)
      : write_(std::move(write)), linger_(linger), thread_([this] { loop(); }) {}
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
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(item));
      ++pushed_;
      wake = queue_.size() == 1 || queue_.size() == kFullBatch;
    }
    if (wake) queued_cv_.notify_one();
  }

  // Returns once everything pushed before the call is written. Not from `write` itself.
  void flush() {
    std::unique_lock lock(mu_);
    const std::uint64_t target = pushed_;
    if (written_ >= target) return;
    flush_target_ = std::max(flush_target_, target);
    queued_cv_.notify_one();  // cut a linger short
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
        queued_cv_.wait_for(lock, linger_, [this] {
          return stopping_ || flush_target_ > written_ || queue_.size() >= kFullBatch;
        });
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
  const std::chrono::milliseconds linger_;
  std::mutex mu_;
  std::condition_variable queued_cv_;
  std::condition_variable written_cv_;
  std::vector<T> queue_;
  std::uint64_t pushed_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t flush_target_ = 0;  // the most a flush() waits for
  bool stopping_ = false;
  std::thread thread_;  // last: it starts running loop() at construction
};

}  // namespace tg::util
