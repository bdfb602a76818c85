// parallel_map: run a function over a dataset on a bounded number of threads, results in input
// order. Useful for evaluation code that blocks (reads values, runs a scorer). LLM calls made
// inside are still limited by the engine's own limits.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace tg {

// Calls fn(item) for every item, at most `concurrency` at a time, and returns the results in
// the order of `items`, whatever the completion order. If any call throws, the first
// exception (in completion order) is rethrown after every started call has finished; items
// not yet started are skipped.
template <typename Item, typename Fn>
auto parallel_map(const std::vector<Item>& items, Fn fn, int concurrency = 16)
    -> std::vector<std::invoke_result_t<Fn&, const Item&>> {
  using Result = std::invoke_result_t<Fn&, const Item&>;
  std::vector<Result> results(items.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mu;
  auto work = [&] {
    for (size_t i = next++; i < items.size() && !failed; i = next++) {
      try {
        results[i] = fn(items[i]);
      } catch (...) {
        std::lock_guard lock(error_mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  const size_t threads = std::min<size_t>(std::max(1, concurrency), items.size());
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return results;
}

}  // namespace tg
