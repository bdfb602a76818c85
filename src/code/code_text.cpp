// Text helpers of code optimization: code out of an LLM answer, and unified diffs.
#include <fmt/format.h>

#include "code/lines.h"
#include "textgrad/code.h"
#include "util/text.h"

namespace tg {
namespace {

std::string with_final_newline(std::string code) {
  if (!code.empty() && code.back() != '\n') code += '\n';
  return code;
}

enum class Op : char { kKeep = ' ', kRemove = '-', kAdd = '+' };

// The edit script by longest common subsequence. Files beyond a few thousand lines on both
// sides are shown as replaced wholesale, which keeps the table small.
std::vector<std::pair<Op, size_t>> edit_script(const std::vector<std::string>& a,
                                               const std::vector<std::string>& b) {
  std::vector<std::pair<Op, size_t>> script;
  const size_t n = a.size(), m = b.size();
  if (n * m > 16'000'000) {
    for (size_t i = 0; i < n; ++i) script.emplace_back(Op::kRemove, i);
    for (size_t j = 0; j < m; ++j) script.emplace_back(Op::kAdd, j);
    return script;
  }
  std::vector<unsigned> lcs((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> unsigned& { return lcs[i * (m + 1) + j]; };
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      at(i, j) = a[i] == b[j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      script.emplace_back(Op::kKeep, i++);
      ++j;
    } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
      script.emplace_back(Op::kRemove, i++);
    } else {
      script.emplace_back(Op::kAdd, j++);
    }
  }
  return script;
}

}  // namespace

std::string extract_code(const std::string& answer) {
  const size_t fence = answer.find("```");
  if (fence != std::string::npos) {
    const size_t body = answer.find('\n', fence);
    if (body != std::string::npos) {
      size_t close = answer.find("\n```", body);
      if (close == std::string::npos) close = answer.size();
      return with_final_newline(answer.substr(body + 1, close - body - 1));
    }
  }
  if (auto tagged = util::extract_tagged(answer, "<CODE>", "</CODE>")) {
    return with_final_newline(*tagged);
  }
  return with_final_newline(util::trim(answer));
}

std::string unified_diff(const std::string& before, const std::string& after,
                         const std::string& before_label, const std::string& after_label) {
  if (before == after) return {};
  const std::vector<std::string> a = code::split_lines(before), b = code::split_lines(after);
  const auto script = edit_script(a, b);
  constexpr size_t kContext = 3;
  std::string out = fmt::format("--- {}\n+++ {}\n", before_label, after_label);
  size_t k = 0;
  while (k < script.size()) {
    // Find the next change, then extend the hunk while changes are within 2*kContext lines.
    size_t first = k;
    while (first < script.size() && script[first].first == Op::kKeep) ++first;
    if (first == script.size()) break;
    size_t start = first >= kContext ? first - kContext : 0;
    start = std::max(start, k);
    size_t end = first;
    size_t keeps = 0;
    for (size_t x = first; x < script.size(); ++x) {
      keeps = script[x].first == Op::kKeep ? keeps + 1 : 0;
      if (keeps > 2 * kContext) break;
      end = x + 1;
    }
    while (end > first && script[end - 1].first == Op::kKeep) --end;
    end = std::min(script.size(), end + kContext);
    // Line numbers: count lines of each side before `start`.
    size_t a_line = 0, b_line = 0, a_count = 0, b_count = 0;
    for (size_t x = 0; x < start; ++x) {
      a_line += script[x].first != Op::kAdd;
      b_line += script[x].first != Op::kRemove;
    }
    std::string body;
    for (size_t x = start; x < end; ++x) {
      const auto [op, index] = script[x];
      a_count += op != Op::kAdd;
      b_count += op != Op::kRemove;
      body += static_cast<char>(op);
      body += (op == Op::kAdd ? b[index] : a[index]) + "\n";
    }
    out += fmt::format("@@ -{},{} +{},{} @@\n", a_line + (a_count > 0), a_count,
                       b_line + (b_count > 0), b_count);
    out += body;
    k = end;
  }
  return out;
}

}  // namespace tg
