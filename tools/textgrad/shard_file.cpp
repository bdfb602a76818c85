#include "shard_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "util/text.h"

namespace tg::cli {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "textgrad-eval-shard";
constexpr int kVersion = 1;

std::string describe(const ShardHeader& h) {
  return fmt::format("task '{}', split {}, engine {}, metric {}, {} items", h.task, h.split,
                     h.engine, h.metric, h.total_items);
}

}  // namespace

std::string shard_file_path(const std::string& dir, Shard shard) {
  return (std::filesystem::path(dir) / fmt::format("shard-{}-of-{}.json", shard.index, shard.count))
      .string();
}

void write_shard_file(const std::string& path, const ShardFile& file) {
  json items = json::array();
  for (const ShardItem& item : file.items) {
    items.push_back({{"position", item.position},
                     {"id", item.id},
                     {"input", item.input},
                     {"target", item.target},
                     {"prediction", item.prediction},
                     {"score", item.score}});
  }
  const ShardHeader& h = file.header;
  json doc = {{"format", kFormat},
              {"version", kVersion},
              {"task", h.task},
              {"split", h.split},
              {"engine", h.engine},
              {"metric", h.metric},
              {"prompt", h.prompt},
              {"total_items", h.total_items},
              {"shard", h.shard.index},
              {"shards", h.shard.count},
              {"items", items},
              {"calls", file.calls},
              {"cache_hits", file.cache_hits},
              {"cost_usd", file.cost_usd},
              {"unscorable", file.unscorable}};
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << doc.dump(1) << "\n";
    out.close();
    if (!out) throw Error("cannot write " + temporary + ": check the disk and permissions");
  }
  std::filesystem::rename(temporary, path);
}

ShardFile read_shard_file(const std::string& path) {
  json doc = json::parse(util::read_file(path), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kFormat) {
    throw InvalidArgument(path + " is not a shard file written by `textgrad eval --shard`");
  }
  if (doc.value("version", 0) != kVersion) {
    throw InvalidArgument(path + " was written by another textgrad version (shard format " +
                          doc.value("version", json(0)).dump() + ")");
  }
  try {
    ShardFile file;
    ShardHeader& h = file.header;
    h.task = doc.at("task").get<std::string>();
    h.split = doc.at("split").get<std::string>();
    h.engine = doc.at("engine").get<std::string>();
    h.metric = doc.at("metric").get<std::string>();
    h.prompt = doc.at("prompt").get<std::string>();
    h.total_items = doc.at("total_items").get<std::size_t>();
    h.shard = {doc.at("shard").get<int>(), doc.at("shards").get<int>()};
    for (const json& item : doc.at("items")) {
      file.items.push_back({item.at("position").get<std::size_t>(),
                            item.at("id").get<std::string>(), item.at("input").get<std::string>(),
                            item.at("target").get<std::string>(),
                            item.at("prediction").get<std::string>(), item.at("score").get<int>()});
    }
    file.calls = doc.at("calls").get<std::int64_t>();
    file.cache_hits = doc.at("cache_hits").get<std::int64_t>();
    file.cost_usd = doc.at("cost_usd").get<double>();
    file.unscorable = doc.at("unscorable").get<int>();
    return file;
  } catch (const json::exception& e) {
    throw InvalidArgument(path + " is a damaged shard file (" + e.what() +
                          "): run its `textgrad eval --shard` again");
  }
}

ShardFile merge_shards(std::vector<ShardFile> shards) {
  if (shards.empty()) throw InvalidArgument("no shard files to merge");
  ShardFile merged;
  merged.header = shards.front().header;
  const ShardHeader& first = merged.header;
  const int count = first.shard.count;
  std::vector<bool> seen(static_cast<std::size_t>(count), false);
  for (const ShardFile& shard : shards) {
    const ShardHeader& h = shard.header;
    if (h.task != first.task || h.split != first.split || h.engine != first.engine ||
        h.metric != first.metric || h.prompt != first.prompt ||
        h.total_items != first.total_items || h.shard.count != count) {
      throw InvalidArgument(fmt::format(
          "shard {}/{} belongs to another evaluation ({}, or another prompt) than shard {}/{} "
          "({}): merge the shards of one run only",
          h.shard.index, h.shard.count, describe(h), first.shard.index, count, describe(first)));
    }
    if (h.shard.index < 0 || h.shard.index >= count ||
        seen[static_cast<std::size_t>(h.shard.index)]) {
      throw InvalidArgument(fmt::format("shard {}/{} is given twice", h.shard.index, count));
    }
    seen[static_cast<std::size_t>(h.shard.index)] = true;
    for (const ShardItem& item : shard.items) merged.items.push_back(item);
    merged.calls += shard.calls;
    merged.cache_hits += shard.cache_hits;
    merged.cost_usd += shard.cost_usd;
    merged.unscorable += shard.unscorable;
  }
  for (int i = 0; i < count; ++i) {
    if (!seen[static_cast<std::size_t>(i)]) {
      throw InvalidArgument(fmt::format(
          "shard {}/{} is missing: run `textgrad eval ... --shard {}/{}` into the same folder "
          "(or pass its folder to merge)",
          i, count, i, count));
    }
  }
  std::sort(merged.items.begin(), merged.items.end(),
            [](const ShardItem& a, const ShardItem& b) { return a.position < b.position; });
  for (std::size_t i = 0; i < merged.items.size(); ++i) {
    if (merged.items[i].position != i || merged.items.size() != first.total_items) {
      throw InvalidArgument(fmt::format(
          "the shards hold {} items for a split of {}: a shard file was edited or cut short; "
          "run its `textgrad eval --shard` again",
          merged.items.size(), first.total_items));
    }
  }
  merged.header.shard = {0, 1};
  return merged;
}

}  // namespace tg::cli
