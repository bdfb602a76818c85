// `textgrad code`: test-time code optimization. One program against its test command
// (--file/--test), or a set of problems solved concurrently (--problems). The loop itself is
// library code (optimize_code in include/textgrad/code.h); this file wires flags, files, the
// run directory and the report. Exit codes: docs/code.md.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include <fmt/format.h>

#include "commands.h"
#include "run_dir.h"
#include "textgrad/code.h"
#include "textgrad/textgrad.h"
#include "util/task_group.h"
#include "util/text.h"

namespace tg::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uintmax_t kMaxTestFilesBytes = 32u << 20;
constexpr int kMaxTestFiles = 2000;

// A directory's files, read once at the start so that later changes (the run directory, an
// editor's swap files) do not leak into the tests. Version control and caches are skipped.
std::map<std::string, std::string> read_tree(const fs::path& dir, const fs::path& skip) {
  std::map<std::string, std::string> files;
  std::uintmax_t bytes = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() &&
        (name == ".git" || name == "__pycache__" || name == ".pytest_cache" || name == "runs")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || fs::equivalent(it->path(), skip)) continue;
    bytes += it->file_size();
    if (bytes > kMaxTestFilesBytes || static_cast<int>(files.size()) >= kMaxTestFiles) {
      throw InvalidArgument(fmt::format(
          "'{}' holds more than {} MB or {} files: pass --files with a directory that holds "
          "just the tests and what they need",
          dir.string(), kMaxTestFilesBytes >> 20, kMaxTestFiles));
    }
    files[fs::relative(it->path(), dir).string()] = util::read_file(it->path().string());
  }
  return files;
}

SandboxOptions sandbox_options(const CodeFlags& f) {
  SandboxOptions options;
  options.isolate = !f.no_sandbox;
  options.limits.wall_seconds = f.timeout;
  options.limits.cpu_seconds = std::max(1, static_cast<int>(std::ceil(f.timeout)));
  options.limits.memory_mb = f.memory_mb;
  options.limits.max_processes = f.max_processes;
  return options;
}

void warn_if_unsandboxed(const CodeFlags& f) {
  if (!f.no_sandbox) return;
  std::cerr << "textgrad: WARNING: --no-sandbox: the tests run WITHOUT isolation, with your "
               "network and your files. Only the time, memory and process limits apply.\n";
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// report.html: the markdown report in a page; code, feedback and diffs are preformatted.
std::string html_page(const std::string& title, const std::string& markdown) {
  return fmt::format(
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>"
      "<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}pre{{background:#f4f4f4;"
      "padding:.5em;overflow:auto}}</style></head>\n<body><pre>{1}</pre></body></html>\n",
      html_escape(title), html_escape(markdown));
}

const char* status_name(UpdateOutcome::Status status) {
  switch (status) {
    case UpdateOutcome::Status::kUpdated:
      return "updated";
    case UpdateOutcome::Status::kKept:
      return "kept (no usable answer)";
    case UpdateOutcome::Status::kSkipped:
      return "skipped (no feedback)";
    case UpdateOutcome::Status::kFailed:
      return "failed";
  }
  return "?";
}

std::string counts(const TestReport& report) {
  return report.per_test ? fmt::format("{}/{}", report.passed, report.total())
                         : (report.all_passed() ? "pass" : "fail");
}

// Writes one version, its test results, and (from the second on) its round's feedback and
// diff, under `prefix` in the run directory.
class VersionWriter {
 public:
  VersionWriter(RunDir& dir, std::string prefix, std::string extension)
      : dir_(dir), prefix_(std::move(prefix)), extension_(std::move(extension)) {
    for (const char* sub : {"versions", "tests", "feedback", "diffs"}) {
      fs::create_directories(dir_.path() / prefix_ / sub);
    }
  }

  void version(int index, const CodeVersion& v) {
    dir_.write_file(fmt::format("{}versions/v{}{}", prefix_, index, extension_), v.code);
    dir_.write_file(fmt::format("{}tests/v{}.txt", prefix_, index), v.tests.text);
  }

  void round(const CodeIteration& it, const std::string& before, const CodeVersion& v) {
    version(it.version, v);
    dir_.write_file(fmt::format("{}feedback/iteration_{}.md", prefix_, it.index),
                    fmt::format("# Iteration {}\n\n## Critique (the loss)\n\n{}\n\n## Feedback "
                                "on the code\n\n{}\n\n## Update\n\n{}{}\n",
                                it.index, it.critique, it.feedback, status_name(it.update),
                                it.update_note.empty() ? "" : ": " + it.update_note));
    dir_.write_file(fmt::format("{}diffs/iteration_{}.diff", prefix_, it.index),
                    unified_diff(before, v.code, fmt::format("v{}", it.version - 1),
                                 fmt::format("v{}", it.version)));
  }

 private:
  RunDir& dir_;
  std::string prefix_;
  std::string extension_;
};

json result_json(const CodeOptimizationResult& r) {
  json versions = json::array();
  for (const CodeVersion& v : r.versions) {
    versions.push_back({{"passed", v.tests.passed},
                        {"total", v.tests.total()},
                        {"all_passed", v.tests.all_passed()},
                        {"summary", v.tests.summary}});
  }
  json rounds = json::array();
  for (const CodeIteration& it : r.iterations) {
    rounds.push_back({{"iteration", it.index},
                      {"version", it.version},
                      {"update", status_name(it.update)},
                      {"calls", it.calls}});
  }
  return {{"versions", versions},
          {"iterations", rounds},
          {"best", r.best},
          {"solved", r.solved()},
          {"calls", r.calls}};
}

std::string markdown_report(const std::string& title, const CodeOptimizationResult& r) {
  std::string md = fmt::format("# {}\n\n", title);
  md += fmt::format("Best version: v{} ({}), {} after {} iteration(s), {} LLM call(s).\n\n", r.best,
                    r.best_version().tests.summary,
                    r.solved() ? "all tests pass" : "some tests still fail", r.iterations.size(),
                    r.calls);
  md += "| version | tests | update | calls |\n|---|---|---|---|\n";
  md += fmt::format("| v0 (input) | {} | | |\n", counts(r.versions[0].tests));
  for (const CodeIteration& it : r.iterations) {
    md += fmt::format("| v{} | {} | {} | {} |\n", it.version, counts(r.versions[it.version].tests),
                      status_name(it.update), it.calls);
  }
  for (const CodeIteration& it : r.iterations) {
    md += fmt::format(
        "\n## Iteration {}\n\n### Critique\n\n{}\n\n### Feedback\n\n{}\n\n"
        "### Diff\n\n```diff\n{}```\n\n### Tests of v{}\n\n```\n{}\n```\n",
        it.index, it.critique, it.feedback,
        unified_diff(r.versions[it.version - 1].code, r.versions[it.version].code,
                     fmt::format("v{}", it.version - 1), fmt::format("v{}", it.version)),
        it.version, r.versions[it.version].tests.text);
  }
  return md;
}

void write_atomically(const fs::path& path, const std::string& content) {
  const fs::path temporary = path.string() + ".textgrad-tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) throw Error(fmt::format("cannot write '{}'", temporary.string()));
  }
  std::error_code error;
  fs::permissions(temporary, fs::status(path).permissions(), error);
  fs::rename(temporary, path);
}

// ---- one file ---------------------------------------------------------------------------

int run_file(const CodeFlags& f) {
  if (f.test.empty()) {
    throw InvalidArgument("--file needs --test \"COMMAND\" (e.g. \"python3 -m pytest -q\")");
  }
  const fs::path file = f.file;
  if (!fs::is_regular_file(file)) {
    throw InvalidArgument(fmt::format("cannot read '{}': no such file", f.file));
  }
  const std::string original = util::read_file(f.file);
  const fs::path files_dir =
      f.files_dir.empty() ? fs::absolute(file).parent_path() : fs::path(f.files_dir);
  if (!fs::is_directory(files_dir)) {
    throw InvalidArgument(fmt::format("--files '{}' is not a directory", f.files_dir));
  }
  CodeTestsOptions options;
  options.filename = file.filename().string();
  options.language = f.language;
  options.command = f.test;
  options.files = read_tree(files_dir, file);
  options.sandbox = sandbox_options(f);
  warn_if_unsandboxed(f);
  CodeTests tests(options);

  const TestReport initial = tests.run(original);
  if (initial.command_not_found()) {
    throw InvalidArgument(fmt::format(
        "the test command could not run: {}\nInside the sandbox only /usr, /bin and /lib are "
        "visible and PATH is /usr/local/bin:/usr/bin:/bin; check the command's spelling",
        util::trim(initial.runs.front().err)));
  }
  if (initial.all_passed()) {
    std::cout << fmt::format("The tests already pass on {} ({}): nothing to do.\n", f.file,
                             initial.summary);
    return kOk;
  }
  if (!f.output.quiet) std::cerr << fmt::format("v0 (input): {}\n", initial.summary);

  Engines engines = build_engines(f.engines);
  RunDir dir = RunDir::create(f.run_dir.empty() ? default_run_dir("code") : fs::path(f.run_dir));
  dir.write_file("config.json", json{{"file", fs::absolute(file).string()},
                                     {"test", f.test},
                                     {"language", tests.language().name},
                                     {"iterations", f.iterations},
                                     {"timeout_s", f.timeout},
                                     {"memory_mb", f.memory_mb},
                                     {"sandbox", !f.no_sandbox},
                                     {"engine", f.engines.engine},
                                     {"backward_engine", f.engines.backward_engine}}
                                        .dump(2) +
                                    "\n");
  VersionWriter writer(dir, "", file.extension().string());
  writer.version(0, {original, initial});

  CodeOptimizationOptions loop;
  loop.iterations = f.iterations;
  loop.problem = f.problem.empty() ? "" : text_or_file(f.problem);
  loop.input_tests = &initial;
  std::string previous = original;
  loop.on_iteration = [&](const CodeIteration& it, const CodeVersion& v) {
    writer.round(it, previous, v);
    previous = v.code;
    if (!f.output.quiet) {
      std::cerr << fmt::format("iteration {}: v{} {} ({})\n", it.index, it.version, v.tests.summary,
                               status_name(it.update));
    }
  };
  CodeOptimizationResult result = optimize_code(original, tests, engines.backward, loop);

  const std::string title = fmt::format("textgrad code: {}", f.file);
  const std::string markdown = markdown_report(title, result);
  dir.write_file("result.json", result_json(result).dump(2) + "\n");
  dir.write_file("report.md", markdown);
  dir.write_file("report.html", html_page(title, markdown));
  const CodeVersion& best = result.best_version();
  dir.write_file("best" + file.extension().string(), best.code);

  const std::string diff =
      unified_diff(original, best.code, "a/" + options.filename, "b/" + options.filename);
  std::cout << (diff.empty() ? "No version did better than the input; it is unchanged.\n" : diff);
  if (f.in_place && !diff.empty()) {
    write_atomically(file, best.code);
    std::cerr << fmt::format("Wrote v{} to {}.\n", result.best, f.file);
  }
  const Totals totals = engines.ledger->total();
  std::cerr << fmt::format("Best: v{} ({}); {} LLM calls, ${:.4f}. Run directory: {}\n",
                           result.best, best.tests.summary, totals.calls, totals.cost_usd,
                           dir.path().string());
  return result.solved() ? static_cast<int>(kOk) : static_cast<int>(kTestsFailing);
}

// ---- problem sets -----------------------------------------------------------------------

struct Problem {
  std::string id;
  std::string prompt;
  std::string starting_code;
  CodeTestsOptions tests;
};

std::string string_field(const json& item, const char* key, const std::string& where) {
  if (!item.contains(key)) return {};
  if (!item[key].is_string())
    throw ParseError(fmt::format("{}: \"{}\" must be a string", where, key));
  return item[key].get<std::string>();
}

Problem parse_problem(const json& item, const std::string& where, const CodeFlags& f) {
  if (!item.is_object()) throw ParseError(fmt::format("{}: expected a JSON object", where));
  Problem p;
  p.id = string_field(item, "id", where);
  if (p.id.empty()) p.id = where;
  p.prompt = string_field(item, "prompt", where);
  if (p.prompt.empty()) throw ParseError(fmt::format("{}: \"prompt\" is required", where));
  p.starting_code = string_field(item, "code", where);
  p.tests.language = string_field(item, "language", where);
  if (p.tests.language.empty()) p.tests.language = f.language.empty() ? "python" : f.language;
  p.tests.filename = string_field(item, "filename", where);
  if (p.tests.filename.empty())
    p.tests.filename = "solution" + language_named(p.tests.language).extension;
  const std::string tests = string_field(item, "tests", where);
  if (!tests.empty()) p.tests.files["test_solution.py"] = tests;
  p.tests.command = string_field(item, "test_command", where);
  if (p.tests.command.empty() && !tests.empty()) {
    p.tests.command = "python3 -m pytest -q test_solution.py";
  }
  if (item.contains("files")) {
    if (!item["files"].is_object())
      throw ParseError(fmt::format("{}: \"files\" must be an object of name: contents", where));
    for (const auto& [name, content] : item["files"].items()) {
      p.tests.files[name] = content.is_string() ? content.get<std::string>() : content.dump();
    }
  }
  if (item.contains("cases")) {
    if (!item["cases"].is_array()) {
      throw ParseError(
          fmt::format("{}: \"cases\" must be a list of {{\"input\", \"output\"}}", where));
    }
    for (const auto& c : item["cases"]) {
      if (!c.is_object()) throw ParseError(fmt::format("{}: each case must be an object", where));
      p.tests.cases.push_back({c.value("name", ""), c.value("input", ""), c.value("output", "")});
    }
  }
  if (p.tests.command.empty() && p.tests.cases.empty()) {
    throw ParseError(
        fmt::format("{}: give \"tests\" (a pytest file), \"test_command\" or \"cases\"", where));
  }
  p.tests.sandbox = sandbox_options(f);
  return p;
}

std::vector<Problem> read_problems(const CodeFlags& f) {
  std::ifstream in(f.problems);
  if (!in) throw InvalidArgument(fmt::format("cannot read '{}': no such file", f.problems));
  std::vector<Problem> problems;
  std::set<std::string> ids;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (util::trim(line).empty()) continue;
    const std::string where = fmt::format("{}:{}", f.problems, number);
    json item = json::parse(line, nullptr, false);
    if (item.is_discarded()) throw ParseError(fmt::format("{}: not valid JSON", where));
    problems.push_back(parse_problem(item, where, f));
    if (!ids.insert(problems.back().id).second) {
      throw ParseError(fmt::format("{}: the id '{}' is used twice", where, problems.back().id));
    }
  }
  if (problems.empty()) throw InvalidArgument(fmt::format("'{}' holds no problems", f.problems));
  return problems;
}

struct Solved {
  bool zero_shot = false;
  bool solved = false;
  int iterations = 0;
  int calls = 0;
  std::string zero_shot_tests;
  std::string final_tests;
  std::string error;
};

std::string zero_shot(const Problem& p, const CodeTests& tests, const EnginePtr& engine,
                      const Prompts& prompts) {
  const std::string starting =
      p.starting_code.empty() ? ""
                              : prompts.render("code_starting_code", {{"code", p.starting_code}});
  Request request = Request::Text(
      prompts.render("code_solve_user", {{"problem", p.prompt}, {"starting_code", starting}}),
      prompts.render("code_solve_system", {{"language", tests.language().name}}), Phase::kForward);
  return extract_code(engine->generate(std::move(request)).text);
}

std::string safe_name(const std::string& id) {
  std::string out;
  for (char c : id) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out;
}

Solved solve(const Problem& p, const Engines& engines, RunDir& dir, const CodeFlags& f) {
  Solved s;
  const Prompts prompts;
  CodeTests tests(p.tests);
  const std::string first = zero_shot(p, tests, engines.forward, prompts);
  s.calls = 1;
  VersionWriter writer(dir, "problems/" + safe_name(p.id) + "/", tests.language().extension);
  CodeOptimizationOptions loop;
  loop.iterations = f.iterations;
  loop.problem = p.prompt;
  std::string previous = first;
  loop.on_iteration = [&](const CodeIteration& it, const CodeVersion& v) {
    writer.round(it, previous, v);
    previous = v.code;
  };
  CodeOptimizationResult r = optimize_code(first, tests, engines.backward, loop);
  writer.version(0, r.versions.front());
  s.zero_shot = r.versions.front().tests.all_passed();
  s.solved = r.solved();
  s.iterations = static_cast<int>(r.iterations.size());
  s.calls += r.calls;
  s.zero_shot_tests = counts(r.versions.front().tests);
  s.final_tests = counts(r.best_version().tests);
  return s;
}

int run_problems(const CodeFlags& f) {
  std::vector<Problem> problems = read_problems(f);
  warn_if_unsandboxed(f);
  for (const Problem& p : problems) CodeTests check(p.tests);  // bad options fail before any call
  Engines engines = build_engines(f.engines);
  RunDir dir = RunDir::create(f.run_dir.empty() ? default_run_dir("code") : fs::path(f.run_dir));
  dir.write_file("config.json", json{{"problems", fs::absolute(f.problems).string()},
                                     {"iterations", f.iterations},
                                     {"timeout_s", f.timeout},
                                     {"memory_mb", f.memory_mb},
                                     {"sandbox", !f.no_sandbox},
                                     {"engine", f.engines.engine},
                                     {"backward_engine", f.engines.backward_engine},
                                     {"concurrency", f.concurrency}}
                                        .dump(2) +
                                    "\n");
  std::vector<Solved> results(problems.size());
  std::mutex progress_mu;
  {
    util::TaskGroup pool(std::max(1, f.concurrency));
    for (size_t i = 0; i < problems.size(); ++i) {
      pool.run([&, i] {
        try {
          results[i] = solve(problems[i], engines, dir, f);
        } catch (const std::exception& e) {
          results[i].error = e.what();
        }
        if (!f.output.quiet) {
          std::lock_guard lock(progress_mu);
          const Solved& s = results[i];
          std::cerr << fmt::format("{}: {} after {} iteration(s)\n", problems[i].id,
                                   !s.error.empty() ? "error: " + s.error
                                   : s.solved       ? "solved"
                                                    : "not solved",
                                   s.iterations);
        }
      });
    }
    pool.wait();
  }
  int zero = 0, solved = 0, errors = 0;
  std::string lines,
      table = "| problem | zero-shot | final | iterations | calls |\n|---|---|---|---|---|\n";
  for (size_t i = 0; i < problems.size(); ++i) {
    const Solved& s = results[i];
    zero += s.zero_shot;
    solved += s.solved;
    errors += !s.error.empty();
    json record = {{"id", problems[i].id},
                   {"zero_shot", s.zero_shot},
                   {"solved", s.solved},
                   {"iterations", s.iterations},
                   {"calls", s.calls},
                   {"zero_shot_tests", s.zero_shot_tests},
                   {"final_tests", s.final_tests}};
    if (!s.error.empty()) record["error"] = s.error;
    lines += record.dump() + "\n";
    table += fmt::format("| {} | {} | {} | {} | {} |\n", problems[i].id,
                         s.error.empty() ? s.zero_shot_tests : "error",
                         s.error.empty() ? s.final_tests : s.error, s.iterations, s.calls);
  }
  const double n = static_cast<double>(problems.size());
  const std::string rates =
      fmt::format("Zero-shot solve rate: {}/{} ({:.2f}); after optimization: {}/{} ({:.2f})", zero,
                  problems.size(), zero / n, solved, problems.size(), solved / n);
  dir.write_file("results.jsonl", lines);
  dir.write_file("summary.json", json{{"problems", problems.size()},
                                      {"zero_shot_solved", zero},
                                      {"solved", solved},
                                      {"zero_shot_rate", zero / n},
                                      {"final_rate", solved / n},
                                      {"errors", errors}}
                                         .dump(2) +
                                     "\n");
  const std::string markdown =
      fmt::format("# textgrad code: {}\n\n{}\n\n{}", f.problems, rates, table);
  dir.write_file("report.md", markdown);
  dir.write_file("report.html", html_page("textgrad code", markdown));
  std::cout << rates << "\n";
  std::cerr << fmt::format("Run directory: {}\n", dir.path().string());
  return errors == 0 ? kOk : kFailure;
}

}  // namespace

void add_code(CLI::App& app, CodeFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "code",
      "Improve a program until its tests pass: run the tests in a sandbox, critique, rewrite, "
      "repeat (or solve a --problems set)");
  cmd->add_option("--file", f.file, "The program to improve (e.g. solution.py)");
  cmd->add_option("--test", f.test,
                  "Shell command that runs the tests in the file's directory, e.g. "
                  "\"python3 -m pytest -q test_solution.py\"");
  cmd->add_option("--problems", f.problems,
                  "JSONL problem set: {\"id\", \"prompt\", \"code\"?, \"tests\" | "
                  "\"test_command\" | \"cases\"}");
  cmd->add_option("--language", f.language, "Language of the code (default: from the extension)");
  cmd->add_option("--problem", f.problem, "What the code must do: TEXT or @FILE (optional)");
  add_engine_flags(*cmd, f.engines, /*with_backward_engine=*/true);
  // --timeout is the tests' time limit here; the per-request one gets another name.
  cmd->remove_option(cmd->get_option("--timeout"));
  cmd->add_option("--request-timeout", f.engines.timeout_s, "Seconds per LLM request attempt")
      ->capture_default_str();
  cmd->add_option("--iterations", f.iterations, "Rounds of critique and rewrite at most")
      ->capture_default_str();
  cmd->add_option("--timeout", f.timeout, "Seconds the tests may run (wall clock, and CPU)")
      ->capture_default_str();
  cmd->add_option("--memory-mb", f.memory_mb, "Address space of each test process, MB")
      ->capture_default_str();
  cmd->add_option("--max-processes", f.max_processes, "Processes the tests may start")
      ->capture_default_str();
  cmd->add_option("--files", f.files_dir,
                  "Directory whose files the tests need (default: the file's directory)");
  cmd->add_flag("--in-place", f.in_place, "Write the best version back to --file");
  cmd->add_option("--run-dir", f.run_dir, "Where to write the run (default: runs/code-<time>)");
  cmd->add_option("--concurrency", f.concurrency, "Problems solved at once")->capture_default_str();
  cmd->add_flag("--no-sandbox", f.no_sandbox,
                "DANGEROUS: run the tests without isolation (limits only), for machines "
                "without user namespaces");
  cmd->add_flag("--quiet", f.output.quiet, "No progress output");
}

int run_code(const CodeFlags& f) {
  if (f.file.empty() == f.problems.empty()) {
    throw InvalidArgument(
        "code needs either --file FILE --test \"COMMAND\" or --problems FILE.jsonl");
  }
  if (f.iterations < 0 || f.timeout <= 0 || f.memory_mb <= 0 || f.max_processes <= 0) {
    throw InvalidArgument(
        "--iterations must be 0 or more; --timeout, --memory-mb and --max-processes positive");
  }
  try {
    return f.file.empty() ? run_problems(f) : run_file(f);
  } catch (const SandboxUnavailable& e) {
    std::cerr << "textgrad: " << e.what() << "\n";
    return kSandboxUnavailable;
  }
}

}  // namespace tg::cli
