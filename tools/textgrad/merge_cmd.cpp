// `textgrad merge DIR...`: the result of an unsharded `eval` from the files of its shards.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "commands.h"
#include "shard_file.h"
#include "textgrad/data.h"
#include "textgrad/errors.h"

namespace tg::cli {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> shard_paths(const std::vector<std::string>& inputs) {
  std::vector<std::string> paths;
  for (const std::string& input : inputs) {
    if (!fs::is_directory(input)) {
      if (!fs::exists(input)) {
        throw InvalidArgument("'" + input + "' does not exist: give the --shard-dir folders");
      }
      paths.push_back(input);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(input)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("shard-") && name.ends_with(".json")) found.push_back(entry.path());
    }
    if (found.empty()) {
      throw InvalidArgument("'" + input +
                            "' holds no shard-I-of-N.json files: give the folder "
                            "`textgrad eval --shard I/N --shard-dir` wrote");
    }
    std::sort(found.begin(), found.end());
    paths.insert(paths.end(), found.begin(), found.end());
  }
  return paths;
}

void write_predictions(const std::string& path, const ShardFile& merged) {
  std::ofstream out(path, std::ios::trunc);
  for (const ShardItem& item : merged.items) {
    out << nlohmann::json{{"index", item.position},        {"id", item.id},
                          {"input", item.input},           {"target", item.target},
                          {"prediction", item.prediction}, {"score", item.score}}
               .dump()
        << "\n";
  }
  out.close();
  if (!out) throw Error("cannot write the predictions to " + path);
}

}  // namespace

void add_merge(CLI::App& app, MergeFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "merge", "Combine the shard files of `eval --shard I/N` into the result of one run");
  cmd->add_option("inputs", f.inputs, "Folders given to --shard-dir, or shard files")->required();
  cmd->add_option("--output", f.output, "Write the predictions as JSONL, in split order");
  cmd->add_flag("--json", f.json, "Print the result as JSON");
}

int run_merge(const MergeFlags& f) {
  std::vector<ShardFile> shards;
  for (const std::string& path : shard_paths(f.inputs)) shards.push_back(read_shard_file(path));
  ShardFile merged = merge_shards(std::move(shards));
  if (!f.output.empty()) write_predictions(f.output, merged);
  std::vector<int> scores;
  int correct = 0;
  for (const ShardItem& item : merged.items) {
    scores.push_back(item.score);
    correct += item.score;
  }
  const ShardHeader& h = merged.header;
  const double accuracy = scores.empty() ? 0.0 : static_cast<double>(correct) / scores.size();
  ConfidenceInterval ci = wilson_interval(correct, scores.size());
  if (f.json) {
    nlohmann::json out = {{"task", h.task},
                          {"split", h.split},
                          {"items", scores.size()},
                          {"correct", correct},
                          {"accuracy", accuracy},
                          {"ci95", {ci.low, ci.high}},
                          {"scores", scores},
                          {"calls", merged.calls},
                          {"cache_hits", merged.cache_hits},
                          {"cost_usd", merged.cost_usd},
                          {"unscorable", merged.unscorable}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << fmt::format(
        "{} {}: {}/{} correct, accuracy {:.1f}% (95% CI {:.1f}–{:.1f}%), "
        "{} calls ({} cached), ${:.4f}\n",
        h.task, h.split, correct, scores.size(), accuracy * 100, ci.low * 100, ci.high * 100,
        merged.calls, merged.cache_hits, merged.cost_usd);
  }
  return kOk;
}

}  // namespace tg::cli
