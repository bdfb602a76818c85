#include "run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "textgrad/errors.h"

namespace tg::cli {
namespace fs = std::filesystem;

namespace {

std::string reason(int error) {
  return error == ENOSPC || error == EFBIG || error == EDQUOT
             ? fmt::format("{} (is the disk full or a file size limit reached?)",
                           std::strerror(error))
             : std::string(std::strerror(error));
}

// write(2) until everything is written; returns 0 or the errno of the failure.
int write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "unknown host";
  return buffer;
}

// Takes the run directory's lock or throws naming the process that holds it.
int take_lock(const fs::path& dir) {
  const fs::path file = dir / "lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error(fmt::format("cannot create '{}': {}", file.string(), reason(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error != EWOULDBLOCK) {
      throw Error(fmt::format("cannot lock '{}': {}", file.string(), reason(error)));
    }
    std::ifstream in(file);
    nlohmann::json holder = nlohmann::json::parse(in, nullptr, false);
    const std::string who =
        holder.is_object() ? fmt::format("pid {} on {}, started {}", holder.value("pid", 0),
                                         holder.value("host", "?"), holder.value("started", "?"))
                           : std::string("a process that is still starting");
    throw InvalidArgument(fmt::format(
        "'{}' is in use by another textgrad run ({}): wait for it to finish or stop it, or "
        "choose another --run-dir",
        dir.string(), who));
  }
  const std::string holder =
      nlohmann::json{{"pid", getpid()}, {"host", host_name()}, {"started", iso_time_now()}}.dump() +
      "\n";
  if (ftruncate(fd, 0) != 0 || write_all(fd, holder) != 0) {
    const int error = errno;
    ::close(fd);
    throw Error(fmt::format("cannot write '{}': {}", file.string(), reason(error)));
  }
  return fd;
}

// In bulk: an istreambuf_iterator copies a character at a time, which showed in profiles of
// reports over large event logs.
std::string read_all(std::ifstream& in) {
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// Cuts a torn last line off events.jsonl; returns a note saying so, or "".
std::string repair_events(const fs::path& file) {
  std::error_code error;
  const auto size = fs::file_size(file, error);
  if (error || size == 0) return {};
  std::ifstream in(file, std::ios::binary);
  const std::string text = read_all(in);
  if (text.back() == '\n') return {};
  const size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  fs::resize_file(file, keep, error);
  if (error) {
    throw Error(fmt::format("cannot repair '{}': {}", file.string(), error.message()));
  }
  return fmt::format(
      "events.jsonl ended in a torn line ({} bytes) from an interrupted write; it was removed",
      text.size() - keep);
}

}  // namespace

struct RunDir::Shared {
  std::mutex mu;
  int lock_fd = -1;
  int events_fd = -1;
  std::string write_error;
  ~Shared() {
    if (events_fd >= 0) ::close(events_fd);
    if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
  }
};

RunDir::RunDir(fs::path path, std::shared_ptr<Shared> shared)
    : path_(std::move(path)), shared_(std::move(shared)) {}

RunDir RunDir::create(const fs::path& path) {
  std::error_code error;
  const bool is_new = !fs::exists(path);
  fs::create_directories(path / "steps", error);
  if (error) {
    throw Error(
        fmt::format("cannot create the run directory '{}': {}", path.string(), error.message()));
  }
  if (is_new) fs::permissions(path, fs::perms::owner_all, error);  // prompts are private
  auto shared = std::make_shared<Shared>();
  shared->lock_fd = take_lock(path);
  // Checked under the lock, so of two simultaneous starts exactly one gets the directory.
  if (fs::exists(path / "config.json")) {
    throw InvalidArgument(fmt::format(
        "'{}' already holds a run: continue it with --resume {} or choose another --run-dir",
        path.string(), path.string()));
  }
  RunDir dir(path, std::move(shared));
  dir.shared_->events_fd =
      ::open((path / "events.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (dir.shared_->events_fd < 0) {
    throw Error(
        fmt::format("cannot write '{}': {}", (path / "events.jsonl").string(), reason(errno)));
  }
  return dir;
}

RunDir RunDir::open(const fs::path& path) {
  RunDir dir = read_only(path);
  dir.shared_->lock_fd = take_lock(path);
  fs::create_directories(path / "steps");
  dir.repair_note_ = repair_events(path / "events.jsonl");
  dir.shared_->events_fd =
      ::open((path / "events.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (dir.shared_->events_fd < 0) {
    throw Error(
        fmt::format("cannot write '{}': {}", (path / "events.jsonl").string(), reason(errno)));
  }
  return dir;
}

RunDir RunDir::read_only(const fs::path& path) {
  if (!fs::exists(path / "config.json")) {
    throw InvalidArgument(fmt::format(
        "'{}' is not a run directory (no config.json): give the folder a previous run wrote",
        path.string()));
  }
  return RunDir(path, std::make_shared<Shared>());
}

void RunDir::write_file(const std::string& name, const std::string& content) const {
  const fs::path target = path_ / name;
  const fs::path temporary = path_ / (name + ".tmp");
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(fmt::format("cannot write '{}': {}", target.string(), reason(errno)));
  int error = write_all(fd, content);
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(temporary.c_str());
    throw Error(fmt::format("cannot write '{}': {}", target.string(), reason(error)));
  }
  std::error_code rename_error;
  fs::rename(temporary, target, rename_error);
  if (rename_error) {
    throw Error(fmt::format("cannot write '{}': {}", target.string(), rename_error.message()));
  }
}

std::string RunDir::read_file(const std::string& name) const {
  std::ifstream in(path_ / name, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read '{}'", (path_ / name).string()));
  return read_all(in);
}

bool RunDir::has_file(const std::string& name) const { return fs::exists(path_ / name); }

void RunDir::append_event(const std::string& json_line) const {
  std::lock_guard lock(shared_->mu);
  if (shared_->events_fd < 0 || !shared_->write_error.empty()) return;
  const int error = write_all(shared_->events_fd, json_line + "\n");
  if (error != 0) {
    shared_->write_error =
        fmt::format("cannot write '{}': {}", (path_ / "events.jsonl").string(), reason(error));
  }
}

void RunDir::check_writes() const {
  std::lock_guard lock(shared_->mu);
  if (!shared_->write_error.empty()) throw Error(shared_->write_error);
}

std::string RunDir::step_file(int step) { return fmt::format("steps/step_{:04d}.json", step); }

void RunDir::write_step(int step, const std::string& json) const {
  write_file(step_file(step), json);
}

std::vector<std::string> RunDir::step_files() const {
  std::vector<std::string> names;
  if (!fs::exists(path_ / "steps")) return {};
  for (const auto& entry : fs::directory_iterator(path_ / "steps")) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("step_") && name.ends_with(".json")) names.push_back("steps/" + name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void RunDir::read_json(const std::string& name,
                       const std::function<void(const nlohmann::json&)>& use) const {
  const std::string text = read_file(name);
  try {
    use(nlohmann::json::parse(text));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format(
        "{} is damaged or was edited outside textgrad ({}). Restore it from a copy; for a "
        "step file, deleting it and every later step resumes the run from the step before.",
        (path_ / name).string(), e.what()));
  }
}

std::string iso_time_now() {
  // Every call's event and trace row asks: the text is formatted again once a second.
  thread_local std::time_t formatted_second = -1;
  thread_local char formatted[32];
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  if (now != formatted_second) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::strftime(formatted, sizeof formatted, "%Y-%m-%dT%H:%M:%SZ", &utc);
    formatted_second = now;
  }
  return formatted;
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
