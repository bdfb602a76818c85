// Evaluation metrics with the reference's parsing rules (see the quirks list in data.h).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "data/text.h"
#include "textgrad/data.h"
#include "textgrad/errors.h"

namespace tg {

namespace {

// The digits the reference's int() would read, without leading zeros, or nullopt where it
// falls back to 0. Works on text so arbitrarily long numbers still compare like Python ints.
std::optional<std::string> reference_integer_digits(std::string_view text) {
  const std::vector<std::string_view> tokens = data::python_split(text);
  auto has_digit = [](std::string_view token) {
    for (std::size_t pos = 0; pos < token.size();) {
      const data::CodePoint cp = data::decode_utf8(token, pos);
      if (data::is_python_digit(cp.value, nullptr)) return true;
      pos += cp.size;
    }
    return false;
  };
  auto last = tokens.rbegin();
  while (last != tokens.rend() && !has_digit(*last)) ++last;
  if (last == tokens.rend()) return std::nullopt;

  std::string_view token = *last;
  token = token.substr(0, token.find('.'));
  std::string digits;
  for (std::size_t pos = 0; pos < token.size();) {
    const data::CodePoint cp = data::decode_utf8(token, pos);
    int value = 0;
    if (data::is_python_digit(cp.value, &value)) {
      if (value < 0) return std::nullopt;  // e.g. '²': isdigit() but int() rejects it
      digits.push_back(static_cast<char>('0' + value));
    }
    pos += cp.size;
  }
  if (digits.empty()) return std::nullopt;  // e.g. ".5" cut to ""
  const std::size_t first = digits.find_first_not_of('0');
  return first == std::string::npos ? std::string("0") : digits.substr(first);
}

bool is_ascii_letter_ci(char c, char lower) { return c == lower || c == lower - 'a' + 'A'; }

// Matches (?i)answer at pos.
bool matches_answer_word(std::string_view text, std::size_t pos) {
  constexpr std::string_view kWord = "answer";
  if (pos + kWord.size() > text.size()) return false;
  for (std::size_t i = 0; i < kWord.size(); ++i) {
    if (!is_ascii_letter_ci(text[pos + i], kWord[i])) return false;
  }
  return true;
}

// Skips \s* (Python's Unicode whitespace) from pos.
std::size_t skip_spaces(std::string_view text, std::size_t pos) {
  while (pos < text.size()) {
    const data::CodePoint cp = data::decode_utf8(text, pos);
    if (!data::is_python_space(cp.value)) break;
    pos += cp.size;
  }
  return pos;
}

}  // namespace

std::optional<long long> parse_integer_answer(std::string_view text) {
  const std::optional<std::string> digits = reference_integer_digits(text);
  if (!digits) return std::nullopt;
  long long value = 0;
  const auto [end, error] = std::from_chars(digits->data(), digits->data() + digits->size(), value);
  if (error != std::errc() || end != digits->data() + digits->size()) return std::nullopt;
  return value;
}

int string_metric(std::string_view prediction, std::string_view ground_truth_answer) {
  const std::string predicted = reference_integer_digits(prediction).value_or("0");
  const std::string truth = reference_integer_digits(ground_truth_answer).value_or("0");
  return predicted == truth ? 1 : 0;
}

int exact_match(std::string_view prediction, std::string_view truth) {
  return data::trim_ascii(prediction) == data::trim_ascii(truth) ? 1 : 0;
}

std::optional<char> extract_choice_letter(std::string_view text) {
  // A hand-written scan of (?i)Answer\s*:\s*([A-D]); the leftmost "answer" that completes the
  // pattern is the regex's first match.
  for (std::size_t pos = 0; pos < text.size(); ++pos) {
    if (!matches_answer_word(text, pos)) continue;
    std::size_t at = skip_spaces(text, pos + 6);
    if (at >= text.size() || text[at] != ':') continue;
    at = skip_spaces(text, at + 1);
    if (at >= text.size()) continue;
    const char letter = text[at];
    if ((letter >= 'A' && letter <= 'D') || (letter >= 'a' && letter <= 'd')) return letter;
  }
  return std::nullopt;
}

int multiple_choice_metric(std::string_view response, char correct_letter) {
  return extract_choice_letter(response) == correct_letter ? 1 : 0;
}

std::optional<std::string> majority_vote(const std::vector<std::optional<std::string>>& answers) {
  if (answers.empty()) throw InvalidArgument("majority_vote: no answers to vote on");
  // Distinct answers in order of first appearance, so a strict '>' keeps the earliest on ties.
  std::vector<std::pair<const std::optional<std::string>*, std::size_t>> counts;
  for (const auto& answer : answers) {
    auto it = counts.begin();
    while (it != counts.end() && *it->first != answer) ++it;
    if (it == counts.end()) {
      counts.emplace_back(&answer, 1);
    } else {
      ++it->second;
    }
  }
  auto best = counts.begin();
  for (auto it = counts.begin(); it != counts.end(); ++it) {
    if (it->second > best->second) best = it;
  }
  return *best->first;
}

ConfidenceInterval wilson_interval(std::size_t correct, std::size_t n, double z) {
  if (correct > n) {
    throw InvalidArgument("wilson_interval: more correct answers than items (" +
                          std::to_string(correct) + " > " + std::to_string(n) + ")");
  }
  if (n == 0) return {0.0, 1.0};
  const double count = static_cast<double>(n);
  const double p = static_cast<double>(correct) / count;
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / count;
  const double center = (p + z2 / (2.0 * count)) / denominator;
  const double half =
      z * std::sqrt(p * (1.0 - p) / count + z2 / (4.0 * count * count)) / denominator;
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

double accuracy(const std::vector<int>& scores) {
  if (scores.empty()) return 0.0;
  double sum = 0.0;
  for (int score : scores) sum += score;
  return sum / static_cast<double>(scores.size());
}

}  // namespace tg
