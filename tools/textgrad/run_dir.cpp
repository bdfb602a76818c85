#include "run_dir.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "textgrad/errors.h"

namespace tg::cli {
namespace fs = std::filesystem;

RunDir::RunDir(fs::path path)
    : path_(std::move(path)),
      events_mu_(std::make_shared<std::mutex>()),
      events_(std::make_shared<std::ofstream>(path_ / "events.jsonl", std::ios::app)) {
  if (!*events_) throw Error(fmt::format("cannot write '{}'", (path_ / "events.jsonl").string()));
}

RunDir RunDir::create(const fs::path& path) {
  if (fs::exists(path / "config.json")) {
    throw InvalidArgument(fmt::format(
        "'{}' already holds a run: continue it with --resume {} or choose another --run-dir",
        path.string(), path.string()));
  }
  std::error_code error;
  fs::create_directories(path / "steps", error);
  if (error) {
    throw Error(
        fmt::format("cannot create the run directory '{}': {}", path.string(), error.message()));
  }
  return RunDir(path);
}

RunDir RunDir::open(const fs::path& path) {
  if (!fs::exists(path / "config.json")) {
    throw InvalidArgument(fmt::format(
        "'{}' is not a run directory (no config.json): give the folder a previous run wrote",
        path.string()));
  }
  fs::create_directories(path / "steps");
  return RunDir(path);
}

void RunDir::write_file(const std::string& name, const std::string& content) const {
  const fs::path target = path_ / name;
  const fs::path temporary = path_ / (name + ".tmp");
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw Error(fmt::format("cannot write '{}': is the disk full?", temporary.string()));
  }
  fs::rename(temporary, target);
}

std::string RunDir::read_file(const std::string& name) const {
  std::ifstream in(path_ / name, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read '{}'", (path_ / name).string()));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool RunDir::has_file(const std::string& name) const { return fs::exists(path_ / name); }

void RunDir::append_event(const std::string& json_line) {
  std::lock_guard lock(*events_mu_);
  *events_ << json_line << '\n';
  events_->flush();
}

void RunDir::write_step(int step, const std::string& json) const {
  write_file(fmt::format("steps/step_{:04d}.json", step), json);
}

std::vector<std::string> RunDir::read_steps() const {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(path_ / "steps")) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("step_") && name.ends_with(".json")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> steps;
  for (const fs::path& file : files) {
    steps.push_back(read_file(fs::relative(file, path_).string()));
  }
  return steps;
}

std::string iso_time_now() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

fs::path default_run_dir(const std::string& label) {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%d-%H%M%S", &local);
  std::string safe = label;
  for (char& c : safe) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  return fs::path("runs") / (safe + "-" + buffer);
}

}  // namespace tg::cli
