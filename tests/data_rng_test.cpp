// The RNGs and batch order must match Python bit for bit: these values come from numpy /
// CPython 3.11 and from the reference's batches (docs/reference-defects.md#optimize-protocol).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "textgrad/data.h"
#include "textgrad/errors.h"

namespace {

using Batches = std::vector<std::vector<std::size_t>>;

TEST(DataRng, NumpyFirstDoubleForSeed42) {
  tg::NumpyRandomState rng(42);
  EXPECT_DOUBLE_EQ(rng.random_sample(), 0.3745401188473625);
  EXPECT_EQ(tg::NumpyRandomState(42).random_sample(), 0.3745401188473625);  // bit-exact
}

TEST(DataRng, NumpyPermutationOfTen) {
  tg::NumpyRandomState rng(42);
  EXPECT_EQ(rng.permutation(10), (std::vector<std::size_t>{8, 1, 5, 0, 7, 2, 9, 4, 3, 6}));
}

TEST(DataRng, NumpyRandomIntervalStaysInRange) {
  tg::NumpyRandomState rng(7);
  EXPECT_EQ(rng.random_interval(0), 0U);
  for (int i = 0; i < 1000; ++i) EXPECT_LE(rng.random_interval(5), 5U);
  const std::uint64_t big = (std::uint64_t{1} << 40) + 3;
  for (int i = 0; i < 100; ++i) EXPECT_LE(rng.random_interval(big), big);
}

TEST(DataRng, PythonRandomMatchesCPython) {
  tg::PythonRandom zero(0);
  EXPECT_EQ(zero.random(), 0.8444218515250481);
  EXPECT_EQ(zero.random(), 0.7579544029403025);
  EXPECT_EQ(tg::PythonRandom(42).random(), 0.6394267984578837);
  // A seed above 2^32 uses two key words.
  EXPECT_EQ(tg::PythonRandom((std::uint64_t{1} << 40) + 5).random(), 0.5043802970418443);
}

TEST(DataRng, PythonGetrandbitsAndRandbelow) {
  tg::PythonRandom one(1);
  EXPECT_EQ(one.getrandbits(64), 10499958131665514997ULL);
  EXPECT_EQ(one.getrandbits(33), 7934667487ULL);
  EXPECT_EQ(one.getrandbits(7), 97U);
  EXPECT_EQ(one.getrandbits(0), 0U);
  EXPECT_THROW(one.getrandbits(65), tg::InvalidArgument);

  tg::PythonRandom five(5);  // random.Random(5).randrange(10**12) three times
  EXPECT_EQ(five.randbelow(1000000000000ULL), 281848216645ULL);
  EXPECT_EQ(five.randbelow(1000000000000ULL), 394027974809ULL);
  EXPECT_EQ(five.randbelow(1000000000000ULL), 759329574455ULL);
  EXPECT_THROW(five.randbelow(0), tg::InvalidArgument);
}

TEST(DataRng, PythonShuffle) {
  std::vector<int> items{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  tg::PythonRandom(0).shuffle(items);
  EXPECT_EQ(items, (std::vector<int>{7, 8, 1, 5, 3, 4, 2, 0, 9, 6}));

  // random.seed(42); random.shuffle(choices), as the reference does for each GPQA item.
  std::vector<std::string> choices{"a", "b", "c", "d"};
  tg::PythonRandom(42).shuffle(choices);
  EXPECT_EQ(choices, (std::vector<std::string>{"c", "b", "d", "a"}));
}

TEST(DataBatches, BbhTrainingBatchesForThreeEpochs) {
  tg::BatchSampler sampler(50);
  EXPECT_EQ(sampler.next_epoch(), (Batches{{13, 39, 30}, {45, 17, 48}, {26, 25, 32}, {19, 12, 4}}));
  EXPECT_EQ(sampler.next_epoch(), (Batches{{5, 23, 30}, {42, 7, 40}, {24, 20, 12}, {13, 47, 29}}));
  EXPECT_EQ(sampler.next_epoch(),
            (Batches{{23, 32, 40}, {49, 43, 19}, {36, 42, 37}, {17, 11, 38}}));
  EXPECT_EQ(sampler.epochs_started(), 3U);
}

TEST(DataBatches, Gsm8kTrainingBatchesForThreeEpochs) {
  tg::BatchSampler sampler(200, 3, 4, 42);
  EXPECT_EQ(sampler.next_epoch(),
            (Batches{{95, 15, 30}, {158, 128, 115}, {69, 170, 174}, {45, 66, 182}}));
  EXPECT_EQ(sampler.next_epoch(),
            (Batches{{129, 75, 108}, {1, 142, 138}, {190, 26, 119}, {25, 62, 184}}));
  EXPECT_EQ(sampler.next_epoch(),
            (Batches{{176, 134, 113}, {109, 55, 147}, {163, 64, 97}, {165, 187, 99}}));
}

TEST(DataBatches, FullEpochCoversEveryIndexWithShortLastBatch) {
  tg::BatchSampler sampler(10, 4, 0, 42);
  const Batches batches = sampler.next_epoch();
  ASSERT_EQ(batches.size(), 3U);
  EXPECT_EQ(batches[2].size(), 2U);
  // One shuffle of [0, 10) with seed 42 is numpy's permutation(10).
  EXPECT_EQ(sampler.order(), (std::vector<std::size_t>{8, 1, 5, 0, 7, 2, 9, 4, 3, 6}));
  EXPECT_EQ(batches[0], (std::vector<std::size_t>{8, 1, 5, 0}));
}

TEST(DataBatches, RejectsZeroBatchSize) {
  EXPECT_THROW(tg::BatchSampler(10, 0), tg::InvalidArgument);
}

}  // namespace
