// The file one `eval --shard I/N` writes, and the checks that make a set of them one
// evaluation. JSON:
//   {"format": "textgrad-eval-shard", "version": 1, "task", "split", "engine", "metric",
//    "prompt", "total_items", "shard", "shards",
//    "items": [{"position", "id", "input", "target", "prediction", "score"}],
//    "calls", "cache_hits", "cost_usd", "unscorable"}
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "shard.h"

namespace tg::cli {

struct ShardHeader {
  std::string task;
  std::string split;
  std::string engine;
  std::string metric;
  std::string prompt;
  std::size_t total_items = 0;
  Shard shard;
};

struct ShardItem {
  std::size_t position = 0;  // in the (unsharded) split
  std::string id;
  std::string input;
  std::string target;
  std::string prediction;
  int score = 0;
};

struct ShardFile {
  ShardHeader header;
  std::vector<ShardItem> items;
  std::int64_t calls = 0;
  std::int64_t cache_hits = 0;
  double cost_usd = 0;
  int unscorable = 0;
};

std::string shard_file_path(const std::string& dir, Shard shard);
// Written to a temporary file and renamed, so a merge never reads half a shard.
void write_shard_file(const std::string& path, const ShardFile& file);
// Throws InvalidArgument naming the file when it is not a shard file.
ShardFile read_shard_file(const std::string& path);

// Checks that the shards are all N slices of one evaluation (same task, split, engine,
// metric, prompt and item count; each slice once) and joins them: items in split order,
// totals summed. Throws InvalidArgument saying which shard is missing or does not belong.
ShardFile merge_shards(std::vector<ShardFile> shards);

}  // namespace tg::cli
