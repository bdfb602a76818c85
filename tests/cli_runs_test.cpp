// End-to-end tests of what a run records and how it stops, resumes and reports: the trace,
// step files, predictions, budgets, kill/interrupt/resume, the run-directory lock, write
// failures and custom datasets. The tool runs against a local OpenAI-shaped server with the
// mock model, which bills 40 input + 10 output tokens a call. No test waits on a clock: runs
// are stopped by TEXTGRAD_TEST_SIGNAL_AFTER_CALLS or by a server that holds its answer.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/cli_fixture.h"
#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "test_paths.h"

namespace tg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ProcessResult;
using testing::TempDir;

constexpr const char* kKey = "fake-test-key-runs-0123456789abcdefghij";
constexpr int kTokensPerCall = 50;

std::string tool() { return testing::textgrad_tool(); }

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(json::parse(line));  // throws on a torn line
  return lines;
}

// The mock model, answering under a model name no price table lists.
fake::FakeLlmServer::Script unpriced_mock() {
  return [model = testing::MockModel(TEXTGRAD_TEST_DATA_DIR)](const fake::RecordedRequest& r) {
    fake::FakeReply reply = model(r);
    json body = json::parse(reply.body);
    body["model"] = "textgrad-mock-llm";
    reply.body = body.dump();
    return reply;
  };
}

class RunsTest : public testing::CliFixture {
 protected:
  RunsTest() : CliFixture(kKey) {}

  static std::vector<std::string> with(std::vector<std::string> args,
                                       std::initializer_list<std::string> more) {
    args.insert(args.end(), more);
    return args;
  }

  std::string write_dataset(const std::string& name, int lines) const {
    std::string text;
    for (int i = 0; i < lines; ++i) {
      text += "{\"id\": \"q" + std::to_string(i) + "\", \"question\": \"How many is " +
              std::to_string(i) + " plus one?\", \"answer\": \"" + std::to_string(i + 1) + "\"}\n";
    }
    testing::write_text(dir_.file(name), text);
    return dir_.file(name);
  }
};

// Rows of the trace's `trace` view.
std::vector<std::map<std::string, std::string>> trace_rows(const std::string& file) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT step, phase, coalesce(item, ''), coalesce(parameter, ''), "
                               "coalesce(system_prompt, ''), coalesce(request, ''), "
                               "coalesce(answer, '') FROM trace ORDER BY id",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::vector<std::map<std::string, std::string>> rows;
  const char* names[] = {"step", "phase", "item", "parameter", "system", "request", "answer"};
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::map<std::string, std::string> row;
    for (int c = 0; c < 7; ++c) {
      row[names[c]] = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
    }
    rows.push_back(row);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

void expect_no_key(const std::string& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      EXPECT_EQ(testing::read_text(entry.path()).find(kKey), std::string::npos) << entry.path();
    }
  }
}

TEST_F(RunsTest, TraceHoldsEveryRequestAndAnswerAndNoKey) {
  const std::string run_dir = dir_.file("run");
  ProcessResult r = run(with(optimize_args(run_dir, 2), {"--no-cache"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = trace_rows(run_dir + "/trace.sqlite");
  const auto requests = server_->requests();
  ASSERT_EQ(rows.size(), requests.size());
  std::multiset<std::string> sent, traced;
  for (const auto& request : requests) {
    const json content = request.json()["messages"].back()["content"];
    std::string text;
    if (content.is_string()) {
      text = content;
    } else {
      for (const json& part : content) {
        text += (text.empty() ? "" : "\n\n") + part.value("text", std::string());
      }
    }
    sent.insert(text);
  }
  std::set<std::string> phases;
  for (const auto& row : rows) {
    traced.insert(row.at("request"));
    phases.insert(row.at("phase"));
    EXPECT_FALSE(row.at("answer").empty());
    if (row.at("phase") == "evaluation" || row.at("phase") == "forward") {
      EXPECT_NE(row.at("item").find("object_counting.json#"), std::string::npos);
    }
    if (row.at("phase") == "update" || row.at("phase") == "backward") {
      EXPECT_EQ(row.at("parameter"), "prompt");
      EXPECT_NE(row.at("step"), "0");
    }
  }
  EXPECT_EQ(sent, traced);  // every request, text for text
  EXPECT_EQ(phases, (std::set<std::string>{"evaluation", "forward", "backward", "update"}));
  expect_no_key(run_dir);

  ProcessResult meta = run(with(optimize_args(dir_.file("meta"), 1), {"--trace", "meta"}));
  ASSERT_EQ(meta.exit_code, 0) << meta.err;
  for (const auto& row : trace_rows(dir_.file("meta/trace.sqlite"))) {
    EXPECT_EQ(row.at("request"), "");
    EXPECT_EQ(row.at("answer"), "");
  }
  ProcessResult none = run(with(optimize_args(dir_.file("none"), 1), {"--trace", "none"}));
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_FALSE(fs::exists(dir_.file("none/trace.sqlite")));
  ProcessResult bad = run(with(optimize_args(dir_.file("bad"), 1), {"--trace", "some"}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--trace"), std::string::npos) << bad.err;
}

TEST_F(RunsTest, StepFilesRecordItemsParametersAndTestPredictions) {
  const std::string run_dir = dir_.file("run");
  ASSERT_EQ(run(optimize_args(run_dir, 2)).exit_code, 0);
  const json step = json::parse(testing::read_text(run_dir + "/steps/step_0001.json"));
  ASSERT_EQ(step["items"].size(), 3u);
  for (const json& item : step["items"]) {
    for (const char* field : {"id", "input", "prediction", "target", "loss", "feedback"}) {
      EXPECT_FALSE(item[field].get<std::string>().empty()) << field << item.dump();
    }
    EXPECT_TRUE(item["score"] == 0 || item["score"] == 1);
    EXPECT_EQ(item["loss"].get<std::string>(), std::to_string(item["score"].get<int>()));
  }
  ASSERT_EQ(step["parameters"].size(), 1u);
  const json& p = step["parameters"][0];
  EXPECT_NE(p["feedback"].get<std::string>().find("Count every item"), std::string::npos);
  EXPECT_FALSE(p["update_answer"].get<std::string>().empty());
  EXPECT_EQ(p["gate"]["name"], "validation");
  EXPECT_TRUE(p["gate"]["after"].is_number());
  EXPECT_TRUE(p["gate"]["before"].is_number());
  const std::string decision = p["gate"]["decision"];
  EXPECT_EQ(decision == "reverted", step["reverted"].get<bool>());
  if (decision == "accepted") {
    EXPECT_EQ(p["proposed"], step["prompt"]);
  }

  const auto predictions = json_lines(testing::read_text(run_dir + "/steps/test_0001.jsonl"));
  ASSERT_EQ(predictions.size(), 10u);
  for (size_t i = 0; i < predictions.size(); ++i) {
    EXPECT_EQ(predictions[i]["score"], step["test_scores"][i]);
    EXPECT_FALSE(predictions[i]["prediction"].get<std::string>().empty());
  }
}

TEST_F(RunsTest, EvalOutputWritesEveryItem) {
  const std::string out = dir_.file("preds.jsonl");
  ProcessResult r = run({"eval", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
                         "--size", "12", "--json", "--quiet", "--output", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = json_lines(testing::read_text(out));
  ASSERT_EQ(lines.size(), 12u);
  const json result = json::parse(r.out);
  std::set<std::string> ids;
  for (size_t i = 0; i < lines.size(); ++i) {
    ids.insert(lines[i]["id"].get<std::string>());
    EXPECT_EQ(lines[i]["score"], result["scores"][i]);
    for (const char* field : {"input", "prediction", "target"}) {
      EXPECT_TRUE(lines[i][field].is_string()) << field;
    }
  }
  EXPECT_EQ(ids.size(), 12u);
  ProcessResult folder = run({"eval", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
                              "--size", "2", "--output", dir_.path()});
  EXPECT_EQ(folder.exit_code, 2);
  EXPECT_NE(folder.err.find("--output"), std::string::npos) << folder.err;
}

TEST_F(RunsTest, CustomFilesAreEvaluatedWholeAndSplitsAreNamed) {
  const std::string file = write_dataset("ten.jsonl", 10);
  ProcessResult all = run({"eval", "--task", file, "--engine", "openai/gpt-4o-mini", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(json::parse(all.out)["items"], 10);
  EXPECT_EQ(json::parse(all.out)["split"], "all");
  EXPECT_NE(all.err.find("Data: "), std::string::npos) << all.err;
  EXPECT_NE(all.err.find("2 train, 4 validation, 4 test"), std::string::npos) << all.err;
  ProcessResult test = run({"eval", "--task", file, "--engine", "openai/gpt-4o-mini", "--split",
                            "test", "--json", "--quiet"});
  EXPECT_EQ(json::parse(test.out)["items"], 4);

  // Shuffling picks other items for the test split, reproducibly.
  auto test_ids = [&](const std::string& seed) {
    const std::string out = dir_.file("preds-" + seed + ".jsonl");
    ProcessResult r = run({"eval", "--task", file, "--engine", "openai/gpt-4o-mini", "--split",
                           "test", "--shuffle-seed", seed, "--quiet", "--output", out});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> ids;
    for (const json& line : json_lines(testing::read_text(out))) ids.push_back(line["id"]);
    return ids;
  };
  EXPECT_EQ(test_ids("1"), test_ids("1"));
  EXPECT_NE(test_ids("1"), test_ids("2"));

  // The user's own splits.
  const std::string train = write_dataset("train.jsonl", 6);
  const std::string val = write_dataset("val.jsonl", 3);
  const std::string test_file = write_dataset("test.jsonl", 5);
  ProcessResult optimize =
      run({"optimize", "--train", train, "--val", val, "--test", test_file, "--engine",
           "openai/gpt-4o-mini", "--steps", "1", "--run-dir", dir_.file("own"), "--json"});
  ASSERT_EQ(optimize.exit_code, 0) << optimize.err;
  EXPECT_NE(optimize.err.find("6 train, 3 validation, 5 test"), std::string::npos) << optimize.err;
  EXPECT_EQ(
      json::parse(testing::read_text(dir_.file("own/steps/step_0001.json")))["test_scores"].size(),
      5u);

  // Errors name the flag to use, never a C++ type.
  testing::write_text(dir_.file("odd.jsonl"), "{\"question\": \"a\", \"solution\": \"1\"}\n");
  ProcessResult odd =
      run({"eval", "--task", dir_.file("odd.jsonl"), "--engine", "openai/gpt-4o-mini"});
  EXPECT_EQ(odd.exit_code, 2);
  EXPECT_NE(odd.err.find("--target-field"), std::string::npos) << odd.err;
  EXPECT_EQ(odd.err.find("FieldNames"), std::string::npos) << odd.err;
  ProcessResult missing =
      run({"eval", "--test", dir_.file("nope.jsonl"), "--engine", "openai/gpt-4o-mini"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--test"), std::string::npos) << missing.err;
}

TEST_F(RunsTest, BudgetHoldsDuringEvaluationWithinOneInFlightWindow) {
  const int budget = 20 * kTokensPerCall;
  const int in_flight = 4;
  ProcessResult r = run({"eval", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
                         "--size", "100", "--no-cache", "--quiet", "--max-in-flight",
                         std::to_string(in_flight), "--budget-tokens", std::to_string(budget)});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("budget"), std::string::npos) << r.err;
  const int spent = static_cast<int>(server_->request_count()) * kTokensPerCall;
  EXPECT_GE(spent, budget);
  EXPECT_LE(spent, budget + in_flight * kTokensPerCall);

  // The same inside optimize: the budget runs out during the step-0 evaluation.
  const size_t before = server_->request_count();
  const std::string run_dir = dir_.file("run");
  ProcessResult opt = run(with(optimize_args(run_dir, 3), {"--no-cache", "--max-in-flight", "4",
                                                           "--budget-tokens", "500", "--yes"}));
  EXPECT_EQ(opt.exit_code, 3) << opt.err;
  const int spent_opt = static_cast<int>(server_->request_count() - before) * kTokensPerCall;
  EXPECT_LE(spent_opt, 500 + 4 * kTokensPerCall);
  EXPECT_NE(opt.err.find("--resume " + run_dir), std::string::npos) << opt.err;
  EXPECT_TRUE(fs::exists(run_dir + "/report.html"));
}

TEST_F(RunsTest, EstimateOverBudgetRefusesToStartAndLeavesNothing) {
  const std::string run_dir = dir_.file("run");
  ProcessResult r = run(with(optimize_args(run_dir, 3), {"--budget-tokens", "1000"}));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--yes"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exceeds --budget-tokens"), std::string::npos) << r.err;
  EXPECT_EQ(server_->request_count(), 0u);
  EXPECT_FALSE(fs::exists(run_dir));
}

TEST_F(RunsTest, DollarBudgetOnAnUnpricedModelIsRefused) {
  const std::string run_dir = dir_.file("run");
  std::vector<std::string> args = optimize_args(run_dir, 1);
  args[4] = "openai/nobody-prices-this-model";
  ProcessResult r = run(with(args, {"--budget-usd", "1"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  for (const char* word : {"unpriced", "--prices", "--budget-tokens"}) {
    EXPECT_NE(r.err.find(word), std::string::npos) << word << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(run_dir));
  EXPECT_EQ(server_->request_count(), 0u);

  // Without a dollar budget it runs, and its cost says "unpriced", never $0.
  server_->set_script(unpriced_mock());
  args.pop_back();  // --quiet: the estimate is printed
  ProcessResult ok = run(with(args, {"--json"}));
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.err.find("cost unpriced"), std::string::npos) << ok.err;
  EXPECT_EQ(json::parse(ok.out)["cost"], "unpriced");
}

TEST_F(RunsTest, KillThenResumeThenReportGivesTheTotalsOfAnUninterruptedRun) {
  const std::string whole = dir_.file("whole");
  ProcessResult a = run(with(optimize_args(whole, 3), {"--json"}));
  ASSERT_EQ(a.exit_code, 0) << a.err;

  const std::map<std::string, std::string> cache = {{"TEXTGRAD_CACHE_DIR", dir_.file("cache2")}};
  // `kill PID` (SIGTERM). After SIGKILL the prompts and scores are the same too (CliTest), but
  // answers the cache had not yet written to disk are paid again, and the log says so.
  auto kill = cache;
  kill["TEXTGRAD_TEST_SIGNAL_AFTER_CALLS"] = "60:TERM";
  const std::string cut = dir_.file("cut");
  ASSERT_EQ(run(optimize_args(cut, 3), kill).exit_code, 143);
  ProcessResult b = run({"optimize", "--resume", cut, "--quiet", "--json"}, cache);
  ASSERT_EQ(b.exit_code, 0) << b.err;

  const json x = json::parse(a.out);
  const json y = json::parse(b.out);
  EXPECT_EQ(x["final_prompt"], y["final_prompt"]);
  EXPECT_EQ(x["input_tokens"], y["input_tokens"]);  // billed once, whatever the sessions
  EXPECT_EQ(x["output_tokens"], y["output_tokens"]);
  EXPECT_DOUBLE_EQ(x["cost_usd"].get<double>(), y["cost_usd"].get<double>());
  EXPECT_EQ(x["calls"].get<int>() - x["cache_hits"].get<int>(),
            y["calls"].get<int>() - y["cache_hits"].get<int>());

  // `textgrad report` rebuilds the same report from the directory alone.
  const std::string before = testing::read_text(cut + "/report.md");
  fs::remove(cut + "/report.md");
  fs::remove(cut + "/report.html");
  ProcessResult report = run({"report", cut});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(testing::read_text(cut + "/report.md"), before);
  EXPECT_TRUE(fs::exists(cut + "/report.html"));
}

// The run writes its reports from the steps and totals it holds (Note [Reports from what the
// run holds]); `textgrad report` reads them all back from the files. Both must agree, with
// priced calls, several steps and a test evaluation overlapping each step.
TEST_F(RunsTest, TheReportAtTheEndIsTheOneReportRebuilds) {
  const std::string run_dir = dir_.file("run");
  ASSERT_EQ(run(optimize_args(run_dir, 4)).exit_code, 0);
  const std::string markdown = testing::read_text(run_dir + "/report.md");
  const std::string html = testing::read_text(run_dir + "/report.html");
  ASSERT_NE(markdown.find("\n| 4 | "), std::string::npos) << markdown;
  fs::remove(run_dir + "/report.md");
  fs::remove(run_dir + "/report.html");
  ProcessResult report = run({"report", run_dir});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(testing::read_text(run_dir + "/report.md"), markdown);
  EXPECT_EQ(testing::read_text(run_dir + "/report.html"), html);
}

TEST_F(RunsTest, ResumingAFinishedRunChangesNothing) {
  const std::string run_dir = dir_.file("run");
  ASSERT_EQ(run(optimize_args(run_dir, 1)).exit_code, 0);
  const std::string report = testing::read_text(run_dir + "/report.md");
  const std::string events = testing::read_text(run_dir + "/events.jsonl");
  const size_t requests = server_->request_count();
  ProcessResult again = run({"optimize", "--resume", run_dir});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("already finished"), std::string::npos) << again.err;
  EXPECT_EQ(testing::read_text(run_dir + "/report.md"), report);
  EXPECT_EQ(testing::read_text(run_dir + "/events.jsonl"), events);
  EXPECT_EQ(server_->request_count(), requests);
}

TEST_F(RunsTest, StepsExtendsAResumedRunAndOtherChangesAreRefused) {
  const std::string run_dir = dir_.file("run");
  ASSERT_EQ(run(optimize_args(run_dir, 1)).exit_code, 0);
  ProcessResult changed = run({"optimize", "--resume", run_dir, "--seed", "7"});
  EXPECT_EQ(changed.exit_code, 2);
  EXPECT_NE(changed.err.find("--seed"), std::string::npos) << changed.err;
  ProcessResult engine = run({"optimize", "--resume", run_dir, "--engine", "openai/gpt-4o"});
  EXPECT_EQ(engine.exit_code, 2);
  EXPECT_NE(engine.err.find("--engine"), std::string::npos) << engine.err;
  ProcessResult same = run({"optimize", "--resume", run_dir, "--batch-size", "3", "--quiet"});
  EXPECT_EQ(same.exit_code, 0) << same.err;  // the value it already has

  ProcessResult extended = run({"optimize", "--resume", run_dir, "--steps", "2", "--quiet"});
  ASSERT_EQ(extended.exit_code, 0) << extended.err;
  EXPECT_TRUE(fs::exists(run_dir + "/steps/step_0002.json"));
  EXPECT_EQ(json::parse(testing::read_text(run_dir + "/config.json"))["steps"], 2);
  EXPECT_NE(testing::read_text(run_dir + "/report.md").find("| 2 | 1 |"), std::string::npos);
}

TEST_F(RunsTest, SigintAndSigtermLeaveAResumableRun) {
  const std::string whole = dir_.file("whole");
  ASSERT_EQ(run(optimize_args(whole, 3)).exit_code, 0);
  for (const auto& [signal, code] : {std::pair{"INT", 130}, std::pair{"TERM", 143}}) {
    const std::string run_dir = dir_.file(std::string("stopped-") + signal);
    const std::map<std::string, std::string> cache = {
        {"TEXTGRAD_CACHE_DIR", dir_.file(std::string("cache-") + signal)}};
    auto stop = cache;
    stop["TEXTGRAD_TEST_SIGNAL_AFTER_CALLS"] = std::string("45:") + signal;
    ProcessResult r = run(optimize_args(run_dir, 3), stop);
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_NE(r.err.find("textgrad optimize --resume " + run_dir), std::string::npos) << r.err;
    EXPECT_NE(testing::read_text(run_dir + "/report.md").find("interrupted"), std::string::npos);
    for (const json& line : json_lines(testing::read_text(run_dir + "/events.jsonl"))) {
      EXPECT_TRUE(line.is_object());
    }
    ProcessResult resumed = run({"optimize", "--resume", run_dir, "--quiet"}, cache);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_EQ(testing::read_text(run_dir + "/final_prompt.txt"),
              testing::read_text(whole + "/final_prompt.txt"));
  }
}

TEST_F(RunsTest, ASecondRunOnTheSameDirectoryIsRefusedNamingTheHolder) {
  // The server holds every answer until the test has tried the second run.
  auto arrived = std::make_shared<std::promise<void>>();
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  auto once = std::make_shared<std::once_flag>();
  testing::MockModel model(TEXTGRAD_TEST_DATA_DIR);
  server_->set_script([=](const fake::RecordedRequest& request) {
    std::call_once(*once, [&] { arrived->set_value(); });
    released.wait();
    return model(request);
  });
  const std::string run_dir = dir_.file("run");
  std::vector<std::string> args = optimize_args(run_dir, 1);
  args.insert(args.begin(), tool());
  testing::Process first(args, env());
  const std::string holder = "pid " + std::to_string(first.pid());
  ASSERT_EQ(arrived->get_future().wait_for(std::chrono::minutes(2)), std::future_status::ready);

  ProcessResult second = run(optimize_args(run_dir, 1));
  ProcessResult resume = run({"optimize", "--resume", run_dir});
  release->set_value();
  EXPECT_EQ(first.wait().exit_code, 0);
  for (const ProcessResult* r : {&second, &resume}) {
    EXPECT_EQ(r->exit_code, 2) << r->err;
    EXPECT_NE(r->err.find("in use by another textgrad run"), std::string::npos) << r->err;
    EXPECT_NE(r->err.find(holder), std::string::npos) << r->err;
  }
}

TEST_F(RunsTest, AFailedStartLeavesNoRunDirectoryBehind) {
  const std::string run_dir = dir_.file("run");
  ProcessResult prompt =
      run(with(optimize_args(run_dir, 1), {"--prompt", "@" + dir_.file("missing.txt")}));
  EXPECT_NE(prompt.exit_code, 0);
  ProcessResult metric = run(with(optimize_args(run_dir, 1), {"--metric", "fuzzy"}));
  EXPECT_EQ(metric.exit_code, 2);
  ProcessResult engine = run(with(optimize_args(run_dir, 1), {"--backward-engine", "nosuch/x"}));
  EXPECT_EQ(engine.exit_code, 2);
  EXPECT_FALSE(fs::exists(run_dir + "/config.json"));
  ProcessResult fixed = run(optimize_args(run_dir, 1));
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
}

TEST_F(RunsTest, ATornEventLineIsRepairedOnResume) {
  const std::string run_dir = dir_.file("run");
  ASSERT_EQ(run(optimize_args(run_dir, 1)).exit_code, 0);
  {
    std::ofstream out(run_dir + "/events.jsonl", std::ios::app);
    out << "{\"type\":\"call\",\"time\":\"2026-";
  }
  ProcessResult resumed = run({"optimize", "--resume", run_dir, "--steps", "2"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("torn line"), std::string::npos) << resumed.err;
  EXPECT_GT(json_lines(testing::read_text(run_dir + "/events.jsonl")).size(), 50u);
}

// A file of the run that is no longer what textgrad wrote (a number JSON cannot hold, a field
// gone) is named, with what to do, by every command that reads it; nothing is changed.
TEST_F(RunsTest, ADamagedRunFileIsNamedWithWhatToDo) {
  const std::string run_dir = dir_.file("run");
  ASSERT_EQ(run(optimize_args(run_dir, 2)).exit_code, 0);
  const std::string step = run_dir + "/steps/step_0001.json";
  const std::string kept = testing::read_text(step);
  auto expect_named = [&](const ProcessResult& r, const std::string& file) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(file + " is damaged"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("every later step"), std::string::npos) << r.err;
  };
  for (const std::string& damage : {std::string("{\"step\": 1e999}"), std::string("{}")}) {
    std::ofstream(step, std::ios::trunc) << damage;
    expect_named(run({"report", run_dir}), step);
    expect_named(run({"optimize", "--resume", run_dir, "--steps", "3"}), step);
    EXPECT_EQ(testing::read_text(step), damage);
  }

  std::ofstream(step, std::ios::trunc) << kept;
  std::ofstream(run_dir + "/config.json", std::ios::trunc) << "{\"task\": ";
  expect_named(run({"optimize", "--resume", run_dir, "--steps", "3"}), run_dir + "/config.json");
}

TEST_F(RunsTest, AWriteFailureStopsTheRunWhichThenResumes) {
  // A 24 KiB file size limit: events.jsonl outgrows it during step 2 (--trace none keeps the
  // trace from growing first; --no-cache keeps the cache out of it).
  const std::string run_dir = dir_.file("run");
  std::string command = "ulimit -f 24; exec '" + tool() + "'";
  for (const std::string& arg :
       with(optimize_args(run_dir, 4), {"--trace", "none", "--no-cache"})) {
    command += " '" + arg + "'";
  }
  ProcessResult limited = testing::run_process({"/bin/bash", "-c", command}, env());
  EXPECT_EQ(limited.exit_code, 1) << limited.err;
  EXPECT_NE(limited.err.find("events.jsonl"), std::string::npos) << limited.err;
  EXPECT_NE(limited.err.find("file size limit"), std::string::npos) << limited.err;
  EXPECT_FALSE(fs::exists(run_dir + "/final_prompt.txt"));

  ProcessResult resumed = run({"optimize", "--resume", run_dir, "--quiet"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(fs::exists(run_dir + "/steps/step_0004.json"));
  for (const json& line : json_lines(testing::read_text(run_dir + "/events.jsonl"))) {
    EXPECT_TRUE(line.is_object());
  }
}

TEST_F(RunsTest, OfflineDemonstrationIsLabelledAndNotPriced) {
  // What scripts/main-job.sh runs without a key: the mock names itself as the model.
  server_->set_script(unpriced_mock());
  const std::string run_dir = dir_.file("demo");
  std::vector<std::string> args = optimize_args(run_dir, 1);
  args[4] = "openai/textgrad-mock-llm";
  ProcessResult r = run(with(args, {"--label", "offline demonstration (mock model)", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* file : {"config.json", "report.md", "report.html"}) {
    EXPECT_NE(testing::read_text(run_dir + "/" + file).find("offline demonstration (mock model)"),
              std::string::npos)
        << file;
  }
  EXPECT_EQ(json::parse(r.out)["cost"], "unpriced");
  EXPECT_NE(testing::read_text(run_dir + "/report.md").find("unpriced"), std::string::npos);
}

}  // namespace
}  // namespace tg
