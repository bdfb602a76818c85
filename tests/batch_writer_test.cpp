// util::BatchWriter (Note [Writes off the I/O thread]): items are written in push order, in
// batches gathered while the writer lingers, and neither flush() nor the destructor waits for
// a linger to end.
#include "util/batch_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

namespace tg::util {
namespace {

using namespace std::chrono_literals;

// What the writer wrote: every item, and the size of every batch.
struct Written {
  std::mutex mu;
  std::vector<int> items;
  std::vector<size_t> batches;

  std::function<void(std::vector<int>&)> writer() {
    return [this](std::vector<int>& batch) {
      std::lock_guard lock(mu);
      items.insert(items.end(), batch.begin(), batch.end());
      batches.push_back(batch.size());
    };
  }
};

constexpr auto kForever = std::chrono::milliseconds(std::chrono::hours(1));

TEST(BatchWriter, ABurstIsWrittenAsOneBatchAndFlushDoesNotWaitForTheLinger) {
  Written written;
  BatchWriter<int> writer(written.writer(), kForever);
  for (int i = 0; i < 100; ++i) writer.push(i);
  writer.flush();  // would hang for the hour-long linger if it did not cut it short
  std::lock_guard lock(written.mu);
  std::vector<int> expected(100);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(written.items, expected);
  EXPECT_EQ(written.batches, std::vector<size_t>{100});
}

TEST(BatchWriter, AFullBatchIsWrittenWithoutWaitingForTheLinger) {
  Written written;
  BatchWriter<int> writer(written.writer(), kForever);
  const int count = static_cast<int>(BatchWriter<int>::kFullBatch);
  for (int i = 0; i < count; ++i) writer.push(i);
  for (;;) {  // no flush(): only the full batch can end the linger
    {
      std::lock_guard lock(written.mu);
      if (!written.batches.empty()) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  std::lock_guard lock(written.mu);
  EXPECT_EQ(written.batches, std::vector<size_t>{BatchWriter<int>::kFullBatch});
}

TEST(BatchWriter, TheDestructorWritesEverythingInOrderWithoutWaitingForTheLinger) {
  Written written;
  {
    BatchWriter<int> writer(written.writer(), kForever);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&writer, t] {
        for (int i = 0; i < 500; ++i) writer.push(t * 1000 + i);
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  ASSERT_EQ(written.items.size(), 2000u);
  // Each thread's items keep their order.
  std::vector<int> last(4, -1);
  for (int item : written.items) {
    const int t = item / 1000;
    EXPECT_GT(item % 1000, last[t]);
    last[t] = item % 1000;
  }
}

TEST(BatchWriter, FlushAfterEverythingIsWrittenReturnsAtOnce) {
  Written written;
  BatchWriter<int> writer(written.writer(), kForever);
  writer.flush();  // nothing pushed
  writer.push(1);
  writer.flush();
  writer.flush();  // nothing new
  std::lock_guard lock(written.mu);
  EXPECT_EQ(written.items, std::vector<int>{1});
}

}  // namespace
}  // namespace tg::util
