// Test reports: pytest's output parsed into per-test outcomes, and the bounded evaluation text.
#include <signal.h>

#include <string.h>
#include <algorithm>
#include <optional>
#include <regex>

#include <fmt/format.h>

#include "code/lines.h"
#include "textgrad/code.h"
#include "util/text.h"

namespace tg {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "FAILED test_x.py::test_a - AssertionError: boom" -> outcome.
TestOutcome summary_line_outcome(std::string_view line, std::string_view word,
                                 TestOutcome::Status status) {
  std::string_view rest = line.substr(word.size() + 1);
  TestOutcome outcome{std::string(rest), status, {}};
  size_t dash = rest.find(" - ");
  if (dash != std::string_view::npos) {
    outcome.name = std::string(rest.substr(0, dash));
    outcome.message = std::string(rest.substr(dash + 3));
  }
  return outcome;
}

// Keeps the head and the tail of `text` within `max` bytes.
std::string clip(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  constexpr std::string_view kGap = "\n[...]\n";
  if (max <= kGap.size()) return text.substr(0, max);
  const size_t head = (max - kGap.size()) / 3;
  const size_t tail = max - kGap.size() - head;
  return text.substr(0, head) + std::string(kGap) + text.substr(text.size() - tail);
}

bool contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

// What the limits and the isolation did to a run, in words the critique can act on.
std::vector<std::string> limit_notes(const RunResult& run, const SandboxLimits& limits) {
  std::vector<std::string> notes;
  const std::string all = run.out + run.err;
  if (run.timed_out) {
    notes.push_back(fmt::format(
        "TIMED OUT: still running after {} s (wall-clock limit); every process was killed",
        limits.wall_seconds));
  } else if (run.signal == SIGXCPU || (run.signal == SIGKILL && !run.output_exceeded)) {
    notes.push_back(
        fmt::format("killed by signal {} ({}): CPU time limit of {} s or memory limit reached",
                    run.signal, strsignal(run.signal), limits.cpu_seconds));
  } else if (run.signal != 0 && !run.output_exceeded) {
    notes.push_back(
        fmt::format("crashed: killed by signal {} ({})", run.signal, strsignal(run.signal)));
  }
  if (run.output_exceeded) {
    notes.push_back(
        fmt::format("output limit exceeded ({} bytes): the run was killed", limits.max_output));
  }
  if (contains(all, "MemoryError") || contains(all, "bad_alloc") ||
      contains(all, "Cannot allocate memory")) {
    notes.push_back(fmt::format("memory limit reached ({} MB of address space)", limits.memory_mb));
  }
  if (contains(all, "Resource temporarily unavailable") || contains(all, "BlockingIOError")) {
    notes.push_back(
        fmt::format("process limit reached ({} processes): fork failed", limits.max_processes));
  }
  if (run.signal == SIGXFSZ || contains(all, "File too large")) {
    notes.push_back(fmt::format("file size limit reached ({} MB)", limits.file_size_mb));
  }
  if (contains(all, "Read-only file system") || contains(all, "Permission denied")) {
    notes.push_back(
        "tried to write where it may not: only its own directory and /tmp are "
        "writable");
  }
  if (contains(all, "Network is unreachable") || contains(all, "Connection refused") ||
      contains(all, "name resolution") || contains(all, "Name or service not known")) {
    notes.push_back("tried to use the network: the sandbox has none");
  }
  return notes;
}

std::string outcome_line(const TestReport& report) {
  if (report.per_test) {
    if (report.total() == 0) return "no tests ran";
    return fmt::format("{} of {} tests passed", report.passed, report.total());
  }
  if (report.runs.empty()) return "not run";
  const RunResult& run = report.runs.front();
  if (run.ok()) return "the test command succeeded (exit status 0)";
  if (run.exit_code >= 0)
    return fmt::format("the test command failed (exit status {})", run.exit_code);
  return "the test command did not finish";
}

}  // namespace

bool TestReport::command_not_found() const {
  if (per_test || runs.size() != 1) return false;
  const RunResult& run = runs.front();
  return run.exit_code == 126 || run.exit_code == 127 ||
         (run.exit_code != 0 && contains(run.err, "No module named pytest"));
}

bool parse_pytest_output(const std::string& output, TestReport& report) {
  static const std::regex kCount(R"((\d+) (passed|failed|errors?|skipped|xfailed|xpassed))");
  static const std::regex kSummary(R"(^=*\s*((\d+ \w+(, )?)+|no tests ran) in [0-9.]+\s*s)");
  std::vector<TestOutcome> tests;
  std::optional<std::pair<int, int>> counts;
  for (const std::string& raw : code::split_lines(output)) {
    std::string_view line = raw;
    if (starts_with(line, "PASSED ")) {
      tests.push_back({std::string(line.substr(7)), TestOutcome::Status::kPassed, {}});
    } else if (starts_with(line, "FAILED ")) {
      tests.push_back(summary_line_outcome(line, "FAILED", TestOutcome::Status::kFailed));
    } else if (starts_with(line, "ERROR ")) {
      tests.push_back(summary_line_outcome(line, "ERROR", TestOutcome::Status::kError));
    } else if (starts_with(line, "SKIPPED ")) {
      tests.push_back({std::string(line.substr(8)), TestOutcome::Status::kSkipped, {}});
    }
    // The final summary: "2 failed, 1 passed in 0.07s", possibly between ==== rules.
    if (!std::regex_search(raw, kSummary)) continue;
    int passed = 0, failed = 0;
    for (std::sregex_iterator it(raw.begin(), raw.end(), kCount), end; it != end; ++it) {
      const int n = std::stoi((*it)[1]);
      const std::string kind = (*it)[2];
      if (kind == "passed" || kind == "xfailed") passed += n;
      if (kind == "failed" || kind == "error" || kind == "errors" || kind == "xpassed") failed += n;
    }
    counts = std::pair{passed, failed};
  }
  if (!counts) return false;
  report.per_test = true;
  report.passed = counts->first;
  report.failed = counts->second;
  report.tests = std::move(tests);
  return true;
}

void describe_report(const std::string& command, const SandboxLimits& limits, size_t max_bytes,
                     TestReport& report) {
  report.summary = outcome_line(report);
  std::string text = fmt::format("Test command: {}\nOutcome: {}\n", command, report.summary);
  std::vector<std::string> notes;
  for (const RunResult& run : report.runs) {
    for (std::string& note : limit_notes(run, limits)) {
      if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
    }
  }
  for (const std::string& note : notes) text += "Note: " + note + "\n";
  std::vector<std::string> failed, passed;
  for (const TestOutcome& t : report.tests) {
    if (t.status == TestOutcome::Status::kPassed) passed.push_back(t.name);
    if (t.status == TestOutcome::Status::kFailed || t.status == TestOutcome::Status::kError) {
      failed.push_back(clip(t.message.empty() ? t.name : t.name + ": " + t.message, 400));
    }
  }
  if (!failed.empty()) text += "Failed tests:\n- " + util::join(failed, "\n- ") + "\n";
  if (!passed.empty()) text += clip("Passed tests: " + util::join(passed, ", "), 600) + "\n";
  // The first run that failed says the most; with one run, that run.
  const RunResult* shown = report.runs.empty() ? nullptr : &report.runs.front();
  for (const RunResult& run : report.runs) {
    if (!run.ok()) {
      shown = &run;
      break;
    }
  }
  if (shown != nullptr) {
    const size_t left = max_bytes > text.size() + 200 ? max_bytes - text.size() - 200 : 0;
    const std::string out = util::trim(shown->out), err = util::trim(shown->err);
    const size_t out_share = err.empty() ? left : out.empty() ? 0 : left * 2 / 3;
    if (!out.empty()) {
      text +=
          fmt::format("Standard output ({} bytes):\n{}\n", shown->out_bytes, clip(out, out_share));
    }
    if (!err.empty()) {
      text += fmt::format("Standard error ({} bytes):\n{}\n", shown->err_bytes,
                          clip(err, left - std::min(left, out.empty() ? 0 : out_share)));
    }
  }
  report.text = clip(text, max_bytes);
}

}  // namespace tg
