// Progress on the terminal: a status line per phase with calls, tokens, dollars and ETA,
// refreshed in place on a terminal and printed as plain lines otherwise.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "textgrad/usage.h"

namespace tg::cli {

class Progress {
 public:
  // quiet: print nothing. The ledger supplies calls, tokens and dollars.
  Progress(bool quiet, std::shared_ptr<Ledger> ledger);

  // Starts a phase with `total` units of work (0: unknown).
  void begin(const std::string& phase, int total);
  void advance(int units = 1);
  void end();
  // A line of its own (a step summary, a warning), never mixed into the status line.
  void note(const std::string& line);

 private:
  void draw(bool final);
  std::string status() const;

  const bool quiet_;
  const bool tty_;
  std::shared_ptr<Ledger> ledger_;
  std::mutex mu_;
  std::string phase_;
  int total_ = 0;
  int done_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "$0.0123", "unpriced" when no billed call had a price, "$0.0123 + 4 unpriced calls".
std::string format_cost(const Totals& totals);

}  // namespace tg::cli
