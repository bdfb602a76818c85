// Sharded evaluation: `textgrad eval ... --shard I/N --shard-dir DIR` evaluates one
// deterministic slice of a split (the items whose position p has p % N == I) and writes
// DIR/shard-I-of-N.json; `textgrad merge DIR...` checks the slices belong to one evaluation
// and combines them into the result (and predictions file) of an unsharded run.
// See docs/scale.md for the file format and how to spread shards over machines.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "task.h"

namespace CLI {
class App;
}

namespace tg::cli {

struct EvalFlags;

struct Shard {
  int index = 0;
  int count = 1;
};

// "I/N" with 0 <= I < N; throws InvalidArgument saying what is wrong.
Shard parse_shard(const std::string& spec);
// The positions of the items this shard evaluates, in order.
std::vector<std::size_t> shard_positions(std::size_t items, Shard shard);

struct ShardFlags {
  std::string spec;  // "I/N"; empty: not sharded
  std::string dir;
};
void add_shard_flags(CLI::App& command, ShardFlags& flags);

// Evaluates the shard of `examples` (the whole split, already cut to --size) and writes its file.
int run_eval_shard(const EvalFlags& flags, const Task& task, const std::string& split,
                   const std::vector<Example>& examples);

struct MergeFlags {
  std::vector<std::string> inputs;  // directories holding shard files, or the files themselves
  std::string output;               // predictions JSONL; empty: none
  bool json = false;
};
void add_merge(CLI::App& app, MergeFlags& flags);
int run_merge(const MergeFlags& flags);

}  // namespace tg::cli
