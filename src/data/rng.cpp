// MT19937 and the two Python shuffles the reference relies on: numpy's legacy RandomState
// (training batches) and CPython's random.Random (the GSM8k split).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <vector>

#include "textgrad/data.h"
#include "textgrad/errors.h"

namespace tg {

namespace {
constexpr std::size_t kN = 624;
constexpr std::size_t kM = 397;
constexpr std::uint32_t kMatrixA = 0x9908b0dfU;
constexpr std::uint32_t kUpperMask = 0x80000000U;
constexpr std::uint32_t kLowerMask = 0x7fffffffU;
}  // namespace

Mt19937::Mt19937(std::uint32_t seed) { init_genrand(seed); }

void Mt19937::init_genrand(std::uint32_t seed) {
  mt_[0] = seed;
  for (std::size_t i = 1; i < kN; ++i) {
    mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
  }
  pos_ = kN;
}

// The reference implementation's init_by_array, which CPython uses for integer seeds.
Mt19937 Mt19937::from_key(std::span<const std::uint32_t> key) {
  Mt19937 g;
  g.init_genrand(19650218U);
  auto& mt = g.mt_;
  std::size_t i = 1;
  std::size_t j = 0;
  const std::size_t key_length = key.empty() ? 1 : key.size();
  for (std::size_t k = kN > key_length ? kN : key_length; k > 0; --k) {
    const std::uint32_t word = key.empty() ? 0U : key[j];
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525U)) + word +
            static_cast<std::uint32_t>(j);
    if (++i >= kN) {
      mt[0] = mt[kN - 1];
      i = 1;
    }
    if (++j >= key_length) j = 0;
  }
  for (std::size_t k = kN - 1; k > 0; --k) {
    mt[i] =
        (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941U)) - static_cast<std::uint32_t>(i);
    if (++i >= kN) {
      mt[0] = mt[kN - 1];
      i = 1;
    }
  }
  mt[0] = 0x80000000U;  // guarantees a non-zero state
  g.pos_ = kN;
  return g;
}

void Mt19937::twist() {
  for (std::size_t k = 0; k < kN; ++k) {
    const std::uint32_t y = (mt_[k] & kUpperMask) | (mt_[(k + 1) % kN] & kLowerMask);
    mt_[k] = mt_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
  }
  pos_ = 0;
}

std::uint32_t Mt19937::next_u32() {
  if (pos_ >= kN) twist();
  std::uint32_t y = mt_[pos_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

double Mt19937::next_double() {
  const std::uint32_t a = next_u32() >> 5;
  const std::uint32_t b = next_u32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::uint64_t NumpyRandomState::random_interval(std::uint64_t max) {
  if (max == 0) return 0;
  // Smallest all-ones mask covering max; rejection keeps the draw unbiased.
  const std::uint64_t mask = ~std::uint64_t{0} >> std::countl_zero(max);
  std::uint64_t value = 0;
  if (max <= 0xffffffffULL) {
    do {
      value = mt_.next_u32() & mask;
    } while (value > max);
  } else {
    do {
      const std::uint64_t high = mt_.next_u32();  // numpy draws the high word first
      value = ((high << 32) | mt_.next_u32()) & mask;
    } while (value > max);
  }
  return value;
}

std::vector<std::size_t> NumpyRandomState::permutation(std::size_t n) {
  std::vector<std::size_t> items(n);
  for (std::size_t i = 0; i < n; ++i) items[i] = i;
  shuffle(items);
  return items;
}

namespace {
// CPython seeds with the 32-bit words of the integer, least significant first; 0 -> [0].
std::vector<std::uint32_t> python_seed_key(std::uint64_t seed) {
  std::vector<std::uint32_t> key{static_cast<std::uint32_t>(seed)};
  if (seed >> 32) key.push_back(static_cast<std::uint32_t>(seed >> 32));
  return key;
}
}  // namespace

PythonRandom::PythonRandom(std::uint64_t seed) : mt_(Mt19937::from_key(python_seed_key(seed))) {}

std::uint64_t PythonRandom::getrandbits(int k) {
  if (k < 0 || k > 64) throw InvalidArgument("getrandbits: k must be between 0 and 64");
  if (k == 0) return 0;
  if (k <= 32) return mt_.next_u32() >> (32 - k);
  // CPython fills the result from the least significant word; the last word is truncated.
  const std::uint64_t low = mt_.next_u32();
  const std::uint64_t high = mt_.next_u32() >> (64 - k);
  return (high << 32) | low;
}

std::uint64_t PythonRandom::randbelow(std::uint64_t n) {
  if (n == 0) throw InvalidArgument("randbelow: n must be positive");
  const int k = static_cast<int>(std::bit_width(n));
  std::uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

BatchSampler::BatchSampler(std::size_t dataset_size, std::size_t batch_size,
                           std::size_t steps_per_epoch, std::uint32_t seed)
    : rng_(seed), order_(dataset_size), batch_size_(batch_size), steps_per_epoch_(steps_per_epoch) {
  if (batch_size == 0) throw InvalidArgument("BatchSampler: batch_size must be at least 1");
  for (std::size_t i = 0; i < dataset_size; ++i) order_[i] = i;
}

std::vector<std::vector<std::size_t>> BatchSampler::next_epoch() {
  rng_.shuffle(order_);  // in place: epoch e shuffles the order left by epoch e-1
  ++epochs_;
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t start = 0; start < order_.size(); start += batch_size_) {
    if (steps_per_epoch_ != 0 && batches.size() == steps_per_epoch_) break;
    const std::size_t end = std::min(order_.size(), start + batch_size_);
    batches.emplace_back(order_.begin() + static_cast<std::ptrdiff_t>(start),
                         order_.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return batches;
}

}  // namespace tg
