#include "checks.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace tg::cli {
namespace {

namespace fs = std::filesystem;

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

CLI::Validator number_check(double bound, bool inclusive) {
  const std::string range = fmt::format("{} {}", inclusive ? ">=" : ">", bound);
  return CLI::Validator(
      [bound, inclusive, range](std::string& text) -> std::string {
        const std::optional<double> value = parse_number(text);
        if (value && (inclusive ? *value >= bound : *value > bound)) return {};
        return fmt::format("'{}' is out of range: give a number {}", text, range);
      },
      range);
}

fs::file_status status_of(const std::string& path) {
  std::error_code error;
  return fs::status(path, error);
}

bool writable(const fs::path& path) { return ::access(path.c_str(), W_OK) == 0; }

// The folder a new file or folder at `path` would be created in.
fs::path parent_folder(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

std::optional<std::string> output_file_problem(const std::string& path) {
  const fs::file_status status = status_of(path);
  if (fs::is_directory(status)) return fmt::format("'{}' is a folder: give a file name", path);
  if (fs::exists(status)) {
    if (!writable(path)) return fmt::format("'{}' is not writable: check its permissions", path);
    return std::nullopt;
  }
  const fs::path parent = parent_folder(path);
  if (!fs::is_directory(status_of(parent))) {
    return fmt::format("cannot create '{}': the folder '{}' does not exist", path, parent.string());
  }
  if (!writable(parent)) {
    return fmt::format("cannot create '{}': the folder '{}' is not writable", path,
                       parent.string());
  }
  return std::nullopt;
}

std::optional<std::string> output_folder_problem(const std::string& path) {
  const fs::file_status status = status_of(path);
  if (fs::exists(status) && !fs::is_directory(status))
    return fmt::format("'{}' is a file: give a folder", path);
  // The nearest existing ancestor decides whether the missing folders can be made.
  fs::path existing = fs::path(path);
  while (!fs::exists(status_of(existing.string()))) {
    existing = parent_folder(existing.string());
  }
  if (!fs::is_directory(status_of(existing.string()))) {
    return fmt::format("cannot create '{}': '{}' is a file, not a folder", path, existing.string());
  }
  if (!writable(existing)) {
    return fmt::format("cannot write in '{}': '{}' is not writable", path, existing.string());
  }
  return std::nullopt;
}

CLI::Validator path_check(std::optional<std::string> (*problem)(const std::string&),
                          std::string description) {
  return CLI::Validator(
      [problem](std::string& path) { return problem(path).value_or(std::string()); },
      std::move(description));
}

}  // namespace

std::optional<std::string> input_file_problem(const std::string& path) {
  const fs::file_status status = status_of(path);
  if (!fs::exists(status)) return fmt::format("'{}' does not exist: check the path", path);
  if (fs::is_directory(status)) return fmt::format("'{}' is a folder, not a file", path);
  if (::access(path.c_str(), R_OK) != 0)
    return fmt::format("'{}' is not readable: check its permissions", path);
  return std::nullopt;
}

CLI::Validator at_least(double min) { return number_check(min, /*inclusive=*/true); }
CLI::Validator greater_than(double min) { return number_check(min, /*inclusive=*/false); }

CLI::Validator input_file() { return path_check(input_file_problem, "FILE"); }

CLI::Validator text_or_input_file() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (!value.starts_with("@")) return {};
        return input_file_problem(value.substr(1)).value_or(std::string());
      },
      "");
}

CLI::Validator input_folder() {
  return path_check(
      [](const std::string& path) -> std::optional<std::string> {
        const fs::file_status status = status_of(path);
        if (!fs::exists(status)) return fmt::format("'{}' does not exist: check the path", path);
        if (!fs::is_directory(status)) return fmt::format("'{}' is a file, not a folder", path);
        return std::nullopt;
      },
      "DIR");
}

CLI::Validator not_a_folder() {
  return path_check(
      [](const std::string& path) -> std::optional<std::string> {
        if (!fs::is_directory(status_of(path))) return std::nullopt;
        return fmt::format("'{}' is a folder: give a file name", path);
      },
      "FILE");
}

CLI::Validator output_file() { return path_check(output_file_problem, "FILE"); }
CLI::Validator output_folder() { return path_check(output_folder_problem, "DIR"); }

}  // namespace tg::cli
