#include "progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace tg::cli {
namespace {

std::string compact(std::int64_t n) {
  if (n >= 1'000'000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f}k", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::string duration(double seconds) {
  const long total = static_cast<long>(seconds + 0.5);
  if (total < 60) return fmt::format("{}s", total);
  return fmt::format("{}m{:02}s", total / 60, total % 60);
}

}  // namespace

Progress::Progress(bool quiet, std::shared_ptr<Ledger> ledger)
    : quiet_(quiet), tty_(isatty(fileno(stderr)) != 0), ledger_(std::move(ledger)) {}

void Progress::begin(const std::string& phase, int total) {
  std::lock_guard lock(mu_);
  phase_ = phase;
  total_ = total;
  done_ = 0;
  started_ = std::chrono::steady_clock::now();
  draw(false);
}

void Progress::advance(int units) {
  std::lock_guard lock(mu_);
  done_ += units;
  if (std::chrono::steady_clock::now() - last_draw_ > std::chrono::milliseconds(100)) draw(false);
}

void Progress::end() {
  std::lock_guard lock(mu_);
  draw(true);
}

void Progress::note(const std::string& line) {
  if (quiet_) return;
  std::lock_guard lock(mu_);
  std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", line.c_str());
}

std::string Progress::status() const {
  Totals totals = ledger_->total();
  std::string counter = total_ > 0 ? fmt::format(" {}/{}", done_, total_) : std::string();
  std::string eta;
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (total_ > 0 && done_ > 0 && done_ < total_) {
    eta = " | ETA " + duration(elapsed / done_ * (total_ - done_));
  }
  return fmt::format("[{}]{} | calls {} ({} cached) | tokens {} | {}{}", phase_, counter,
                     totals.calls, totals.cache_hits,
                     compact(totals.usage.input_tokens + totals.usage.output_tokens),
                     format_cost(totals), eta);
}

void Progress::draw(bool final) {
  if (quiet_) return;
  last_draw_ = std::chrono::steady_clock::now();
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", status().c_str(), final ? "\n" : "");
  } else if (final) {
    std::fprintf(stderr, "%s\n", status().c_str());
  }
  std::fflush(stderr);
}

std::string format_cost(const Totals& totals) {
  const std::int64_t billed = totals.calls - totals.cache_hits - totals.errors;
  if (totals.unpriced_calls > 0 && totals.unpriced_calls >= billed) return "unpriced";
  if (totals.unpriced_calls > 0) {
    return fmt::format("${:.4f} + {} unpriced calls", totals.cost_usd, totals.unpriced_calls);
  }
  return fmt::format("${:.4f}", totals.cost_usd);
}

}  // namespace tg::cli
