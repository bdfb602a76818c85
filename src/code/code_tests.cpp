// CodeTests: a program and its tests in a fresh directory, run in the sandbox.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "textgrad/code.h"
#include "util/text.h"

namespace tg {
namespace fs = std::filesystem;
namespace {

struct LanguageEntry {
  Language language;
  std::vector<std::string> aliases;
};

const std::vector<LanguageEntry>& language_table() {
  static const std::vector<LanguageEntry> table = {
      {{"python", ".py", "python3 {file}"}, {"py", "python3"}},
      {{"cpp", ".cpp", "g++ -std=c++20 -O2 -o program {file} && ./program"}, {"c++", "cxx", "cc"}},
      {{"c", ".c", "gcc -O2 -o program {file} -lm && ./program"}, {}},
      {{"shell", ".sh", "sh {file}"}, {"sh", "bash"}},
  };
  return table;
}

std::string known_names() {
  std::vector<std::string> names;
  for (const auto& entry : language_table()) names.push_back(entry.language.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

// A directory that is removed when it goes out of scope. Readable by the sandbox's user
// (Note [Process limit] in sandbox.cpp: it may not be us), private by its random name.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "textgrad-code-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw Error(fmt::format("cannot create a temporary directory under {}",
                              fs::temp_directory_path().string()));
    }
    path_ = pattern;
    fs::permissions(path_, fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
  }
  ~ScratchDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw Error(fmt::format("cannot write '{}'", path.string()));
}

// Everything readable (and directories enterable) by the sandbox's user.
void open_up(const fs::path& dir) {
  constexpr auto kRead = fs::perms::group_read | fs::perms::others_read;
  constexpr auto kEnter = fs::perms::group_exec | fs::perms::others_exec;
  fs::permissions(dir, kRead | kEnter, fs::perm_options::add);
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_symlink()) continue;
    fs::permissions(entry.path(), entry.is_directory() ? kRead | kEnter : kRead,
                    fs::perm_options::add);
  }
}

bool safe_relative(const fs::path& name) {
  if (name.empty() || name.is_absolute()) return false;
  for (const auto& part : name) {
    if (part == "..") return false;
  }
  return true;
}

// Each line with its trailing whitespace removed, and trailing empty lines dropped.
std::string normalized_output(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    line.erase(line.find_last_not_of(" \t\r") + 1);
    out += line + "\n";
    start = end + 1;
  }
  out.erase(out.find_last_not_of('\n') + 1);
  return out;
}

std::string one_line(std::string text, size_t max = 120) {
  for (char& c : text) {
    if (c == '\n') c = '|';
  }
  return text.size() > max ? text.substr(0, max) + "..." : text;
}

// pytest killed before its summary (a time-out): its progress line (".F.") still tells which
// tests passed; the one running when it was killed counts as failed.
bool parse_pytest_progress(const std::string& out, TestReport& report) {
  const std::string first = out.substr(0, out.find('\n'));
  const std::string marks = first.substr(0, first.find(' '));
  if (marks.empty() || marks.find_first_not_of(".FEsxX") != std::string::npos) return false;
  report.per_test = true;
  report.passed = static_cast<int>(std::count(marks.begin(), marks.end(), '.'));
  report.failed = static_cast<int>(std::count_if(marks.begin(), marks.end(),
                                                 [](char c) { return c == 'F' || c == 'E'; })) +
                  1;
  return true;
}

}  // namespace

const std::vector<Language>& known_languages() {
  static const std::vector<Language> languages = [] {
    std::vector<Language> out;
    for (const auto& entry : language_table()) out.push_back(entry.language);
    return out;
  }();
  return languages;
}

const Language& language_named(const std::string& name) {
  for (const auto& entry : language_table()) {
    if (entry.language.name == name ||
        std::find(entry.aliases.begin(), entry.aliases.end(), name) != entry.aliases.end()) {
      return entry.language;
    }
  }
  throw InvalidArgument(fmt::format(
      "no runner for the language '{}': the known languages are {}. For another language, "
      "write a test command that builds and runs it, and name a known language's file "
      "(e.g. --language shell)",
      name, known_names()));
}

const Language* language_for_file(const fs::path& file) {
  for (const auto& entry : language_table()) {
    if (file.extension() == entry.language.extension) return &entry.language;
  }
  return nullptr;
}

CodeTests::CodeTests(CodeTestsOptions options)
    : options_(std::move(options)),
      language_([this]() -> const Language* {
        if (!options_.language.empty()) return &language_named(options_.language);
        const Language* found = language_for_file(options_.filename);
        if (found == nullptr) {
          throw InvalidArgument(fmt::format(
              "cannot tell the language of '{}' from its extension: name it (known languages: "
              "{})",
              options_.filename, known_names()));
        }
        return found;
      }()),
      sandbox_(options_.sandbox) {
  if (options_.filename.empty()) options_.filename = "solution" + language_->extension;
  if (!safe_relative(options_.filename)) {
    throw InvalidArgument(
        fmt::format("the code's file name '{}' must be a relative path inside the test directory",
                    options_.filename));
  }
  for (const auto& [name, content] : options_.files) {
    if (!safe_relative(name)) {
      throw InvalidArgument(fmt::format(
          "the test file name '{}' must be a relative path inside the test directory", name));
    }
  }
  if (options_.command.empty() && options_.cases.empty()) {
    throw InvalidArgument("code tests need a test command or test cases");
  }
  if (options_.command.empty() && language_->runner.empty()) {
    throw InvalidArgument(fmt::format(
        "the language '{}' has no runner for test cases: give a test command", language_->name));
  }
  if (!options_.files_dir.empty() && !fs::is_directory(options_.files_dir)) {
    throw InvalidArgument(
        fmt::format("the test files directory '{}' does not exist", options_.files_dir.string()));
  }
}

TestReport CodeTests::run(const std::string& code) const {
  ScratchDir scratch;
  const fs::path work = scratch.path() / "work";
  fs::create_directories(work);
  if (!options_.files_dir.empty()) {
    fs::copy(options_.files_dir, work,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  }
  for (const auto& [name, content] : options_.files) write_file(work / name, content);
  write_file(work / options_.filename, code);
  open_up(work);
  return options_.command.empty() ? run_cases(scratch.path()) : run_command(work);
}

TestReport CodeTests::run_command(const fs::path& dir) const {
  TestReport report;
  report.runs.push_back(sandbox_.run(options_.command, dir));
  const RunResult& run = report.runs.back();
  const bool pytest = options_.command.find("pytest") != std::string::npos;
  if (!parse_pytest_output(run.out, report) &&
      !(pytest && !run.ok() && parse_pytest_progress(run.out, report))) {
    report.per_test = false;
    report.passed = run.ok() ? 1 : 0;
    report.failed = run.ok() ? 0 : 1;
  } else if (!run.ok() && report.failed == 0) {
    // Killed after some tests passed: the rest did not pass.
    report.failed = 1;
  }
  describe_report(options_.command, options_.sandbox.limits, options_.report_bytes, report);
  return report;
}

TestReport CodeTests::run_cases(const fs::path& scratch) const {
  TestReport report;
  report.per_test = true;
  const std::string command = render_template(language_->runner, {{"file", options_.filename}});
  for (size_t i = 0; i < options_.cases.size(); ++i) {
    const TestCase& test = options_.cases[i];
    const fs::path input = scratch / fmt::format("stdin-{}", i);
    write_file(input, test.input);
    report.runs.push_back(sandbox_.run(command, scratch / "work", input));
    const RunResult& run = report.runs.back();
    TestOutcome outcome{test.name.empty() ? fmt::format("case {}", i + 1) : test.name,
                        TestOutcome::Status::kFailed,
                        {}};
    const std::string got = normalized_output(run.out);
    const std::string want = normalized_output(test.expected_output);
    if (run.ok() && got == want) {
      outcome.status = TestOutcome::Status::kPassed;
    } else if (run.ok()) {
      outcome.message = fmt::format("input '{}': expected '{}', got '{}'", one_line(test.input),
                                    one_line(want), one_line(got));
    } else {
      outcome.status = TestOutcome::Status::kError;
      outcome.message = run.timed_out        ? "timed out"
                        : run.exit_code >= 0 ? fmt::format("exit status {}: {}", run.exit_code,
                                                           one_line(util::trim(run.err), 300))
                                             : fmt::format("killed by signal {}", run.signal);
    }
    (outcome.status == TestOutcome::Status::kPassed ? report.passed : report.failed) += 1;
    report.tests.push_back(std::move(outcome));
  }
  describe_report(command, options_.sandbox.limits, options_.report_bytes, report);
  return report;
}

Variable CodeTests::evaluate(const Variable& code) const {
  return Variable(run(code.value()).text, "results of running the tests on the code",
                  /*requires_grad=*/false);
}

}  // namespace tg
