// The run's recorders. The trace stores each distinct text once, whether the run is new or
// continues a trace that an earlier process wrote (a resumed run), and every row reads back the
// texts it was given; the event log's call lines quote what they carry; both are stamped with
// the current second.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "events.h"
#include "run_dir.h"
#include "support/process.h"
#include "trace.h"

namespace tg::cli {
namespace {

struct Call {
  std::string system;
  std::string user;
  std::string answer;
};

void record_all(const std::string& file, const std::vector<Call>& calls) {
  Trace trace(file, TraceLevel::kFull);
  const CallTags tags{"item-1", ""};
  const EngineInfo info{"openai/m", "openai", "m"};
  for (const Call& call : calls) {
    const Request request = Request::Text(call.user, call.system, Phase::kEvaluation);
    Outcome outcome;
    outcome.response.text = call.answer;
    trace.record(TracedCall{1, tags, info, request, outcome, 1.0});
  }
  trace.check_writes();
}

std::vector<std::vector<std::string>> query(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  std::vector<std::vector<std::string>> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      row.emplace_back(text ? text : "");
    }
    rows.push_back(row);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

TEST(TraceTest, StoresEachTextOnceAcrossRuns) {
  testing::TempDir dir;
  const std::string file = dir.file("trace.sqlite");
  const std::vector<Call> first = {
      {"Be brief.", "2 + 2?", "4"}, {"Be brief.", "3 + 3?", "6"}, {"Be brief.", "2 + 2?", "4"}};
  // A resumed run: the same texts again, and new ones, from a new process's Trace.
  const std::vector<Call> second = {{"Be brief.", "2 + 2?", "4"},
                                    {"Be very brief.", "5 + 5?", "10"},
                                    {"Be very brief.", "3 + 3?", "6"}};
  record_all(file, first);
  EXPECT_EQ(query(file, "SELECT count(*) FROM texts")[0][0], "5");
  record_all(file, second);

  const auto texts = query(file, "SELECT text, count(*) FROM texts GROUP BY text");
  std::map<std::string, std::string> copies;
  for (const auto& row : texts) copies[row[0]] = row[1];
  EXPECT_EQ(copies, (std::map<std::string, std::string>{{"Be brief.", "1"},
                                                        {"Be very brief.", "1"},
                                                        {"2 + 2?", "1"},
                                                        {"3 + 3?", "1"},
                                                        {"5 + 5?", "1"},
                                                        {"4", "1"},
                                                        {"6", "1"},
                                                        {"10", "1"}}));
  const auto rows =
      query(file, "SELECT system_prompt, request, answer, phase FROM trace ORDER BY id");
  std::vector<Call> all = first;
  all.insert(all.end(), second.begin(), second.end());
  ASSERT_EQ(rows.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(rows[i],
              (std::vector<std::string>{all[i].system, all[i].user, all[i].answer, "evaluation"}))
        << i;
  }
}

// A call line quotes the engine, the model and the error as JSON strings: escaped, and with
// bytes that are not UTF-8 replaced (U+FFFD) as everywhere in the log.
TEST(EventLogTest, CallLinesQuoteWhatTheyCarry) {
  testing::TempDir dir;
  {
    const RunDir run = RunDir::create(dir.file("run"));
    EventLog log(run, PriceTable(), [](const std::string&) {});
    const CallTags tags{"item-1", ""};
    const EngineInfo info{"openai/m\"1", "openai", "m\"1"};
    const Request request = Request::Text("2 + 2?", "", Phase::kEvaluation);
    Outcome failed;
    failed.error = std::make_exception_ptr(std::runtime_error("bad \xFF byte \"quoted\"\n"));
    log.call(TracedCall{2, tags, info, request, failed, 3.0});
    Outcome answered;
    answered.response.text = "4";
    answered.response.model = "m\\2";
    log.call(TracedCall{2, tags, info, request, answered, 4.0});
    log.flush();
  }
  std::vector<nlohmann::json> lines;
  std::istringstream in(testing::read_text(dir.file("run/events.jsonl")));
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json event = nlohmann::json::parse(line);
    if (event["type"] == "call") lines.push_back(event);
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["engine"], "openai/m\"1");
  EXPECT_FALSE(lines[0]["ok"].get<bool>());
  EXPECT_NE(lines[0]["error"].get<std::string>().find("bad \xEF\xBF\xBD byte \"quoted\""),
            std::string::npos)
      << lines[0]["error"];
  EXPECT_EQ(lines[1]["model"], "m\\2");
  EXPECT_TRUE(lines[1]["ok"].get<bool>());
}

// Rows and events carry the time; it is formatted once a second, so a second thread and the
// next second must each see their own.
TEST(TraceTest, TimesAreTheCurrentUtcSecond) {
  const auto utc = [](std::time_t t) {
    std::tm parts{};
    gmtime_r(&t, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return std::string(text);
  };
  const auto now = [] {
    return std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  };
  for (int second = 0; second < 2; ++second) {
    const std::time_t before = now();
    const std::string time = iso_time_now();
    const std::time_t after = now();
    EXPECT_TRUE(std::regex_match(time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << time;
    EXPECT_TRUE(time == utc(before) || time == utc(after)) << time;
    std::string other;
    std::thread([&] { other = iso_time_now(); }).join();
    EXPECT_TRUE(other == time || other == utc(after) || other == utc(now())) << other;
    if (second == 0)
      std::this_thread::sleep_until(std::chrono::system_clock::from_time_t(after + 1));
  }
}

}  // namespace
}  // namespace tg::cli
