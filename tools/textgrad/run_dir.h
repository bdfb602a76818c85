// The run directory: config, append-only event log, per-step state, final files.
//
// Note [Crash safety]
// Every file except events.jsonl is written to a temporary name and renamed into place, and
// every event line is flushed as it is written, so a run killed at any moment leaves complete
// files behind and loses at most the step in progress.
#pragma once

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

namespace tg::cli {

class RunDir {
 public:
  // Creates the directory. Refuses one that already holds a run (suggesting --resume).
  static RunDir create(const std::filesystem::path& path);
  // Opens a directory that holds a run, for --resume.
  static RunDir open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }

  void write_file(const std::string& name, const std::string& content) const;
  std::string read_file(const std::string& name) const;
  bool has_file(const std::string& name) const;

  // Appends one line (a JSON object) to events.jsonl. Thread-safe.
  void append_event(const std::string& json_line);

  // steps/step_0003.json and friends.
  void write_step(int step, const std::string& json) const;
  // Every recorded step, in order.
  std::vector<std::string> read_steps() const;

 private:
  explicit RunDir(std::filesystem::path path);
  std::filesystem::path path_;
  std::shared_ptr<std::mutex> events_mu_;
  std::shared_ptr<std::ofstream> events_;
};

// A default run directory name: runs/<label>-<YYYYmmdd-HHMMSS>.
std::filesystem::path default_run_dir(const std::string& label);

std::string iso_time_now();

}  // namespace tg::cli
