// Gated acceptance: after a step, the new values are scored on a gate set and kept only if
// they pass; keep-best returns the best values seen instead of the last.
//
// Note [Gates]
// Every gate compares the per-item scores of the old and the new values on the same items
// (paired; higher is better, e.g. 1 = correct, 0 = wrong):
// - none: always accept.
// - revert-if-worse: accept unless the new mean is lower (ties accepted). TextGrad's
//   validation revert.
// - strict: accept only if the new mean is higher.
// - significant: accept only if the new values win significantly more items than they lose:
//   a one-sided exact sign test on the items whose scores differ (n = wins + losses), with
//   p = P(Binomial(n, 1/2) >= wins), accepted iff p <= alpha. On 0/1 scores this is exactly
//   McNemar's exact test on the discordant pairs. No differing item (n = 0) gives p = 1.
// With no gate items (empty score lists) every gate accepts, and says so.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tg {

enum class GateKind { kNone, kRevertIfWorse, kStrict, kSignificant };

struct GateOptions {
  GateKind kind = GateKind::kRevertIfWorse;
  double alpha = 0.05;  // for kSignificant; must be in (0, 1)
};

// "none", "revert", "strict" or "significant" (also the names below); InvalidArgument else.
GateKind parse_gate(std::string_view name);
const char* to_string(GateKind kind);
// InvalidArgument unless alpha is in (0, 1).
void validate(const GateOptions& options);

struct GateDecision {
  bool accepted = true;
  GateKind kind = GateKind::kNone;
  std::string reason;  // one sentence with the figures
  double old_mean = 0;
  double new_mean = 0;
  std::size_t items = 0;
  std::size_t wins = 0;    // items where the new value scored higher
  std::size_t losses = 0;  // items where it scored lower
  std::size_t ties = 0;
  std::optional<double> p_value;  // kSignificant only
  double alpha = 0;               // kSignificant only
};

// Decides on paired scores. InvalidArgument if the lists differ in length.
GateDecision decide(const GateOptions& options, const std::vector<double>& old_scores,
                    const std::vector<double>& new_scores);

// P(Binomial(n, 1/2) >= k), exact.
double sign_test_p_value(std::size_t wins, std::size_t n);

}  // namespace tg
