// A simulated prompt-optimization task for offline optimizer benchmarks: scripted "models"
// whose behaviour depends only on the request text and a seed. Reusable by any search over
// system prompts (an optimizer, GEPA-style candidate search): build a SimulatedTask, answer
// every request with its respond(), and score a prompt with accuracy().
//
// The task: each item needs one or two of six rules. The forward model answers an item
// correctly only if the system prompt states every rule the item needs, contains no harmful
// instruction that breaks it, and a noise draw (probability `noise`) does not flip it; prompts
// longer than 700 characters confuse it a little more with every extra character. The
// feedback model, shown a wrong answer, hints at one missing rule with probability `hint`;
// otherwise it suggests a harmless but wordy instruction or, half as often, a harmful one. The
// update model adds every instruction the feedback suggests and, with probability `forget`,
// drops one existing line. So an optimizer can climb (good hints), stall (noise, wordy
// hints) or regress (harmful hints, forgotten rules, bloated prompts).
//
// This measures the optimization machinery (gates, histories, call and token costs), not how
// a real LLM behaves.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "textgrad/engine.h"

namespace tg::sim {

inline std::uint64_t hash(const std::string& text, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

// A uniform draw in [0, 1) fixed by the text and the seed.
inline double draw(const std::string& text, std::uint64_t seed) {
  return static_cast<double>(hash(text, seed) >> 11) / 9007199254740992.0;
}

inline std::string between(const std::string& text, const std::string& open,
                           const std::string& close, size_t from = 0) {
  size_t a = text.find(open, from);
  if (a == std::string::npos) return {};
  a += open.size();
  size_t b = text.find(close, a);
  return text.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

struct SimulatedTaskOptions {
  std::uint64_t seed = 1;  // noise and the models' choices; the task itself is fixed
  double noise = 0.08;
  double hint = 0.6;
  double forget = 0.15;
};

class SimulatedTask {
 public:
  struct Item {
    std::string question;
    std::string target;
    std::vector<int> rules;
  };

  explicit SimulatedTask(SimulatedTaskOptions options = {}) : options_(options) {
    for (int i = 0; i < 150; ++i) {
      Item item;
      item.question = fmt::format("[item {}] How many objects are listed here?", i);
      item.target = std::to_string(3 + i % 7);
      const auto h = hash(std::to_string(i), 7);  // fixed task: not the run's seed
      item.rules.push_back(static_cast<int>(h % kRules.size()));
      if ((h >> 8) % 2 == 0) {
        int second = static_cast<int>((h >> 16) % kRules.size());
        if (second != item.rules[0]) item.rules.push_back(second);
      }
      items_.push_back(std::move(item));
    }
  }

  // 30 training, 30 validation (gate) and 90 test items.
  std::vector<Item> train() const { return {items_.begin(), items_.begin() + 30}; }
  std::vector<Item> val() const { return {items_.begin() + 30, items_.begin() + 60}; }
  std::vector<Item> test() const { return {items_.begin() + 60, items_.end()}; }

  static std::string initial_prompt() {
    return "You answer counting questions. End with 'Answer: N'.";
  }

  bool correct(const std::string& prompt, const Item& item) const {
    for (int rule : item.rules) {
      if (prompt.find(kRules[rule]) == std::string::npos) return false;
    }
    for (size_t h = 0; h < kHarmful.size(); ++h) {
      if (prompt.find(kHarmful[h]) != std::string::npos &&
          std::find(item.rules.begin(), item.rules.end(), static_cast<int>(h)) != item.rules.end())
        return false;
    }
    double p_wrong = options_.noise;
    if (prompt.size() > 700) p_wrong += static_cast<double>(prompt.size() - 700) / 4000.0;
    return draw(prompt + "|" + item.question, options_.seed) >= p_wrong;
  }

  double accuracy(const std::string& prompt, const std::vector<Item>& items) const {
    int right = 0;
    for (const Item& item : items) right += correct(prompt, item);
    return items.empty() ? 0 : static_cast<double>(right) / static_cast<double>(items.size());
  }

  // Answers any request of a prompt-optimization run (forward, string-metric feedback,
  // per-edge or joint feedback, update).
  std::string respond(const Request& r) const {
    const std::string user = r.user_text();
    switch (r.phase) {
      case Phase::kForward:
      case Phase::kEvaluation:
        return forward(r.system_prompt, user);
      case Phase::kBackward:
        return feedback(user);
      case Phase::kUpdate:
        return update(user);
      default:
        return "ok";
    }
  }

  static constexpr std::array<const char*, 6> kRules = {
      "Count each object individually, even when several share a name.",
      "Convert number words such as 'two' into digits before adding.",
      "Ignore items that are mentioned but not owned.",
      "Treat a pair as two objects.",
      "Do not count containers as objects.",
      "Recount the list once before answering."};
  static constexpr std::array<const char*, 6> kHarmful = {
      "Count kinds of objects rather than objects.",
      "Keep number words as they are.",
      "Count every item mentioned, owned or not.",
      "Treat a pair as one object.",
      "Count containers too.",
      "Answer with the first count you get."};
  static constexpr std::array<const char*, 3> kWordy = {
      "Explain your reasoning at length before answering.",
      "Be polite and thorough in every answer.", "Restate the question in your own words first."};

 private:
  const Item* find_item(const std::string& text) const {
    const std::string id = between(text, "[item ", "]");
    if (id.empty()) return nullptr;
    return &items_.at(static_cast<size_t>(std::stoi(id)));
  }

  std::string forward(const std::string& system, const std::string& user) const {
    const Item* item = find_item(user);
    if (!item) return "Answer: 0";
    const bool ok = correct(system, *item);
    return "Counting... Answer: " +
           (ok ? item->target : std::to_string(std::stoi(item->target) + 1));
  }

  std::string hint_for(const std::string& system, const Item& item, const std::string& salt) const {
    const double d = draw(system + salt + item.question, options_.seed + 1);
    for (int rule : item.rules) {
      if (system.find(kRules[rule]) == std::string::npos && d < options_.hint)
        return fmt::format("Add this instruction: {}", kRules[rule]);
    }
    if (d < options_.hint) return "The prompt looks right; this answer was unlucky.";
    const auto pick = hash(system + salt, options_.seed + 2);
    if (d < options_.hint + (1 - options_.hint) * 2 / 3) {
      return fmt::format("Add this instruction: {}", kWordy[pick % kWordy.size()]);
    }
    return fmt::format("Add this instruction: {}", kHarmful[pick % kHarmful.size()]);
  }

  std::string feedback(const std::string& user) const {
    if (user.find("<OUTPUT_OF_FUNCTION>") != std::string::npos) {  // the metric's verdict
      const bool right = between(user, "<OUTPUT_OF_FUNCTION> ", " </OUTPUT_OF_FUNCTION>") == "1";
      return right ? "" : "This answer is wrong.";
    }
    const Item* item = find_item(user);
    const std::string system = between(user, "<LM_SYSTEM_PROMPT> ", " </LM_SYSTEM_PROMPT>");
    if (!item || user.find("This answer is wrong.") == std::string::npos) return "";
    if (user.find("<VARIABLE_1>") != std::string::npos) {  // joint: the prompt is variable 1
      return "<FEEDBACK_1>" + hint_for(system, *item, "joint") +
             "</FEEDBACK_1><FEEDBACK_2></FEEDBACK_2>";
    }
    return hint_for(system, *item, "");
  }

  std::string update(const std::string& user) const {
    std::string value = between(user, "<VARIABLE>", "</VARIABLE>");
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = value.find('\n', start);
      if (end == std::string::npos) end = value.size();
      if (end > start) lines.push_back(value.substr(start, end - start));
      start = end + 1;
    }
    if (lines.size() > 1 && draw(user, options_.seed + 3) < options_.forget) {
      lines.erase(lines.begin() + 1 +
                  static_cast<long>(hash(user, options_.seed + 4) % (lines.size() - 1)));
    }
    const std::string marker = "Add this instruction: ";
    for (size_t at = user.find(marker); at != std::string::npos; at = user.find(marker, at + 1)) {
      size_t end = user.find_first_of("\n<", at);
      std::string rule = user.substr(at + marker.size(), end - at - marker.size());
      if (std::find(lines.begin(), lines.end(), rule) == lines.end()) lines.push_back(rule);
    }
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
    return "<IMPROVED_VARIABLE>" + out + "</IMPROVED_VARIABLE>";
  }

  SimulatedTaskOptions options_;
  std::vector<Item> items_;
};

}  // namespace tg::sim
