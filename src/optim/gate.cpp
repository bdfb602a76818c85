// See Note [Gates] in include/textgrad/gate.h.
#include "textgrad/gate.h"

#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "textgrad/errors.h"

namespace tg {
namespace {

double mean(const std::vector<double>& scores) {
  if (scores.empty()) return 0;
  return std::accumulate(scores.begin(), scores.end(), 0.0) / static_cast<double>(scores.size());
}

}  // namespace

GateKind parse_gate(std::string_view name) {
  if (name == "none") return GateKind::kNone;
  if (name == "revert" || name == "revert-if-worse") return GateKind::kRevertIfWorse;
  if (name == "strict") return GateKind::kStrict;
  if (name == "significant") return GateKind::kSignificant;
  throw InvalidArgument(fmt::format(
      "unknown gate '{}': use none, revert (revert-if-worse), strict or significant", name));
}

const char* to_string(GateKind kind) {
  switch (kind) {
    case GateKind::kNone:
      return "none";
    case GateKind::kRevertIfWorse:
      return "revert";
    case GateKind::kStrict:
      return "strict";
    case GateKind::kSignificant:
      return "significant";
  }
  return "?";
}

void validate(const GateOptions& options) {
  if (!(options.alpha > 0 && options.alpha < 1)) {
    throw InvalidArgument(fmt::format(
        "the significance level alpha must be between 0 and 1 (exclusive), got {}; 0.05 is usual",
        options.alpha));
  }
}

double sign_test_p_value(std::size_t wins, std::size_t n) {
  if (wins == 0) return 1.0;
  if (wins > n) return 0.0;
  // Sum of C(n, k) / 2^n for k >= wins, in logs so that large n neither overflows nor
  // underflows term by term.
  double p = 0;
  for (std::size_t k = wins; k <= n; ++k) {
    const double log_term =
        std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
        std::lgamma(static_cast<double>(n - k) + 1) - static_cast<double>(n) * std::log(2.0);
    p += std::exp(log_term);
  }
  return std::min(1.0, p);
}

GateDecision decide(const GateOptions& options, const std::vector<double>& old_scores,
                    const std::vector<double>& new_scores) {
  if (old_scores.size() != new_scores.size()) {
    throw InvalidArgument(fmt::format(
        "a gate compares paired scores, but got {} old and {} new scores; score both values "
        "on the same items",
        old_scores.size(), new_scores.size()));
  }
  GateDecision d;
  d.kind = options.kind;
  d.items = old_scores.size();
  d.old_mean = mean(old_scores);
  d.new_mean = mean(new_scores);
  for (std::size_t i = 0; i < d.items; ++i) {
    if (new_scores[i] > old_scores[i]) {
      ++d.wins;
    } else if (new_scores[i] < old_scores[i]) {
      ++d.losses;
    } else {
      ++d.ties;
    }
  }
  const std::string figures =
      fmt::format("mean {:.4f} -> {:.4f} on {} items ({} better, {} worse, {} tied)", d.old_mean,
                  d.new_mean, d.items, d.wins, d.losses, d.ties);
  if (d.items == 0) {
    d.accepted = true;
    d.reason = "accepted: no gate items to score on";
    return d;
  }
  switch (options.kind) {
    case GateKind::kNone:
      d.accepted = true;
      d.reason = "accepted: no gate; " + figures;
      break;
    case GateKind::kRevertIfWorse:
      d.accepted = d.new_mean >= d.old_mean;
      d.reason = (d.accepted ? "accepted (not worse): " : "reverted (worse): ") + figures;
      break;
    case GateKind::kStrict:
      d.accepted = d.new_mean > d.old_mean;
      d.reason = (d.accepted ? "accepted (better): " : "reverted (not better): ") + figures;
      break;
    case GateKind::kSignificant:
      validate(options);
      d.alpha = options.alpha;
      d.p_value = sign_test_p_value(d.wins, d.wins + d.losses);
      d.accepted = *d.p_value <= options.alpha;
      d.reason = fmt::format(
          "{} (sign test p = {:.4g}, alpha = {}): {}",
          d.accepted ? "accepted (significantly better)" : "reverted (not significantly better)",
          *d.p_value, options.alpha, figures);
      break;
  }
  return d;
}

}  // namespace tg
