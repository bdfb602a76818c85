// The run directory: config, append-only event log, per-step state, final files, and a lock.
//
// Note [Crash safety]
// Every file except events.jsonl is written to a temporary name and renamed into place, and
// every event line is written with one write(2) as it happens, so a run killed at any moment
// leaves complete files behind and loses at most the step in progress. A write that fails
// (a full disk, a file size limit) may leave a torn last line in events.jsonl; opening the
// directory for --resume cuts it off (and says so), and readers skip unparsable lines.
//
// Note [Run directory lock]
// A run holds an exclusive flock(2) on RUN_DIR/lock for as long as the process lives, with
// its pid, host and start time written inside. A second optimize or resume on the same
// directory fails at once naming the holder. The kernel drops the lock when the holder exits,
// however it exits, so a killed run never leaves a stale lock behind.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tg::cli {

class RunDir {
 public:
  // Creates the directory and locks it. Refuses a directory another process holds, or one
  // that already holds a run (suggesting --resume).
  static RunDir create(const std::filesystem::path& path);
  // Locks a directory that holds a run, for --resume, and repairs a torn last event line.
  static RunDir open(const std::filesystem::path& path);
  // A directory that holds a run, for reading only (no lock, no repair).
  static RunDir read_only(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }

  // Throws tg::Error naming the file and the reason when the write fails.
  void write_file(const std::string& name, const std::string& content) const;
  std::string read_file(const std::string& name) const;
  bool has_file(const std::string& name) const;

  // Appends one line (a JSON object) to events.jsonl. Thread-safe and never throws: the first
  // failure is kept, later lines are dropped, and check_writes() reports it.
  void append_event(const std::string& json_line) const;
  // Throws the first event-log write failure, if any.
  void check_writes() const;
  // Non-empty when open() had to cut a torn last line off events.jsonl.
  const std::string& repair_note() const { return repair_note_; }

  // steps/step_0003.json and friends.
  static std::string step_file(int step);
  void write_step(int step, const std::string& json) const;
  // The names of every recorded step's file ("steps/step_0003.json"), in step order.
  std::vector<std::string> step_files() const;

  // Parses the JSON file `name` and hands the document to `use`. What nlohmann throws in
  // either (not JSON, a field missing or of the wrong type) becomes a tg::Error naming the
  // file, which was damaged or edited outside textgrad.
  void read_json(const std::string& name,
                 const std::function<void(const nlohmann::json&)>& use) const;

 private:
  struct Shared;
  RunDir(std::filesystem::path path, std::shared_ptr<Shared> shared);
  std::filesystem::path path_;
  std::shared_ptr<Shared> shared_;
  std::string repair_note_;
};

// A default run directory name: runs/<label>-<YYYYmmdd-HHMMSS>.
std::filesystem::path default_run_dir(const std::string& label);

std::string iso_time_now();

}  // namespace tg::cli
