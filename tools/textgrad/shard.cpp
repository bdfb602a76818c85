#include "shard.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "endpoint_flags.h"
#include "evaluate.h"
#include "progress.h"
#include "shard_file.h"
#include "textgrad/errors.h"

namespace tg::cli {
namespace {

int parse_part(std::string_view text, const std::string& spec) {
  int value = -1;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) value = -1;
  if (value < 0) {
    throw InvalidArgument("--shard '" + spec + "' is not I/N: give the shard number and the " +
                          "number of shards, e.g. --shard 0/4 ... --shard 3/4");
  }
  return value;
}

// The answers and their scores, in the order of `examples`.
struct Predictions {
  std::vector<std::string> texts;
  std::vector<int> scores;
};

Predictions evaluate_with_predictions(const EnginePtr& engine, const std::string& prompt,
                                      const std::vector<Example>& examples, const Scorer& scorer,
                                      Progress& progress, const std::string& label) {
  // The same calls as evaluate_prompt, so sharded and unsharded runs share cache entries.
  progress.begin(label, static_cast<int>(examples.size()));
  const std::vector<Variable> responses = ask_items(engine, prompt, examples, nullptr);
  Predictions out;
  for (const Variable& response : responses) {
    response.wait();
    progress.advance();
  }
  out.scores = scorer.score(examples, responses);
  for (const Variable& response : responses) out.texts.push_back(response.value());
  progress.end();
  return out;
}

}  // namespace

Shard parse_shard(const std::string& spec) {
  size_t slash = spec.find('/');
  if (slash == std::string::npos) parse_part("", spec);
  Shard shard{parse_part(std::string_view(spec).substr(0, slash), spec),
              parse_part(std::string_view(spec).substr(slash + 1), spec)};
  if (shard.count < 1 || shard.index >= shard.count) {
    throw InvalidArgument(fmt::format(
        "--shard {}: the shard number must be from 0 to N-1 (N = {}), e.g. --shard 0/{}", spec,
        shard.count, std::max(shard.count, 1)));
  }
  return shard;
}

std::vector<std::size_t> shard_positions(std::size_t items, Shard shard) {
  std::vector<std::size_t> positions;
  for (std::size_t p = static_cast<std::size_t>(shard.index); p < items;
       p += static_cast<std::size_t>(shard.count)) {
    positions.push_back(p);
  }
  return positions;
}

void add_shard_flags(CLI::App& command, ShardFlags& flags) {
  command.add_option("--shard", flags.spec,
                     "Evaluate only slice I of N (items whose position % N == I); combine the "
                     "slices with `textgrad merge`");
  command.add_option("--shard-dir", flags.dir, "Where --shard writes shard-I-of-N.json");
}

int run_eval_shard(const EvalFlags& f, const Task& task, const std::string& split,
                   const std::vector<Example>& examples) {
  Shard shard = parse_shard(f.shard.spec);
  if (f.shard.dir.empty()) {
    throw InvalidArgument("--shard needs --shard-dir DIR: the folder where the slices meet");
  }
  std::filesystem::create_directories(f.shard.dir);
  const std::string path = shard_file_path(f.shard.dir, shard);

  std::vector<std::size_t> positions = shard_positions(examples.size(), shard);
  std::vector<Example> mine;
  for (std::size_t p : positions) mine.push_back(examples[p]);

  Engines engines = build_engines(f.engines);
  Progress progress(f.output.quiet, engines.ledger);
  int warnings = 0;
  Scorer scorer(task.metric, engines.backward, [&](const std::string& message) {
    if (++warnings <= 3) progress.note("warning: " + message);
  });
  const std::string prompt = f.prompt.empty() ? default_prompt() : text_or_file(f.prompt);
  Predictions predictions = evaluate_with_predictions(
      engines.forward, prompt, mine, scorer, progress, fmt::format("{} {}", split, f.shard.spec));

  ShardFile file;
  file.header = {task.name, split, f.engines.engine, f.metric, prompt, examples.size(), shard};
  for (std::size_t i = 0; i < mine.size(); ++i) {
    file.items.push_back({positions[i], mine[i].id, mine[i].input, mine[i].target,
                          predictions.texts[i], predictions.scores[i]});
  }
  Totals totals = engines.ledger->total();
  file.calls = totals.calls;
  file.cache_hits = totals.cache_hits;
  file.cost_usd = totals.cost_usd;
  file.unscorable = warnings;
  write_shard_file(path, file);
  if (engines.pool) print_endpoint_usage(std::cerr, *engines.pool, *engines.ledger);
  int correct = 0;
  for (int s : predictions.scores) correct += s;
  if (!f.output.quiet) {
    std::cerr << fmt::format("shard {}: {}/{} correct, written to {}\n", f.shard.spec, correct,
                             mine.size(), path);
  }
  return kOk;
}

}  // namespace tg::cli
