// The pipelined protocol of `textgrad optimize` (Note [Pipelined protocol] in
// tools/textgrad/optimize_run.cpp): step k's test evaluation overlaps step k+1, yet the run
// records exactly what the sequential order records, and a run stopped or killed while an
// overlapped test is in flight resumes to the same result. The sequential order is selected
// with TEXTGRAD_SEQUENTIAL_PROTOCOL=1. Runs are stopped at a precise point by a server that
// holds chosen answers, never by a clock.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

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

constexpr const char* kKey = "fake-test-key-pipeline-0123456789abcdef";
constexpr int kSteps = 5;

// Every file under RUN_DIR/steps by name. Step files lose their one wall-clock field, "time"
// (a line of its own: they are written with an indent); everything else is compared byte for
// byte.
std::map<std::string, std::string> step_files(const std::string& run_dir) {
  static const std::regex time_line(R"(\n  "time": "[^"]*",)");
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(run_dir + "/steps")) {
    const std::string name = entry.path().filename().string();
    std::string text = testing::read_text(entry.path().string());
    if (name.ends_with(".json")) {
      const std::string without = std::regex_replace(text, time_line, "");
      EXPECT_NE(without, text) << name << ": no time field";
      EXPECT_EQ(without.find("\"time\""), std::string::npos) << name;
      text = without;
    }
    files[name] = text;
  }
  return files;
}

// Per (step, phase): calls and tokens, from events.jsonl.
std::map<std::pair<int, std::string>, std::pair<int, long>> calls_by_step(
    const std::string& run_dir) {
  std::map<std::pair<int, std::string>, std::pair<int, long>> counts;
  std::istringstream lines(testing::read_text(run_dir + "/events.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    const json event = json::parse(line);
    if (event["type"] != "call") continue;
    auto& [calls, tokens] = counts[{event["step"].get<int>(), event["phase"].get<std::string>()}];
    ++calls;
    tokens += event["input_tokens"].get<long>() + event["output_tokens"].get<long>();
  }
  return counts;
}

// (step, phase, item, system prompt, request) of every call in trace.sqlite, sorted.
std::multiset<std::string> traced_calls(const std::string& run_dir) {
  sqlite3* db = nullptr;
  EXPECT_EQ(
      sqlite3_open_v2((run_dir + "/trace.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
      SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT step || '|' || phase || '|' || coalesce(item, '') || '|' "
                               "|| coalesce(system_prompt, '') || '|' || coalesce(request, '') "
                               "FROM trace",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::multiset<std::string> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    rows.insert(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

std::string fmt_step(int step) {
  char name[32];
  std::snprintf(name, sizeof name, "/steps/step_%04d.json", step);
  return name;
}

json step_json(const std::string& run_dir, int step) {
  return json::parse(testing::read_text(run_dir + fmt_step(step)));
}

// The inputs of the run's test set, from its first test file.
std::set<std::string> test_inputs_of(const std::string& run_dir) {
  std::set<std::string> inputs;
  std::istringstream lines(testing::read_text(run_dir + "/steps/test_0000.jsonl"));
  for (std::string line; std::getline(lines, line);) inputs.insert(json::parse(line)["input"]);
  return inputs;
}

struct Texts {
  std::string system;
  std::string user;
};

Texts texts_of(const fake::RecordedRequest& request) {
  Texts texts;
  const json body = request.json();  // not a temporary: the loop reads into it
  for (const json& message : body["messages"]) {
    std::string content;  // a string, or an array of parts
    if (message["content"].is_string()) content = message["content"];
    if (message["content"].is_array()) {
      for (const json& part : message["content"]) content += part.value("text", "");
    }
    if (message["role"] == "system") texts.system = content;
    if (message["role"] == "user") texts.user = content;
  }
  return texts;
}

// The mock model, except that the prompts it improved to an odd number count wrong: their
// updates fail validation and are reverted. Answers still depend on the request only.
fake::FakeLlmServer::Script mock_with_bad_prompts() {
  return [model = testing::MockModel(TEXTGRAD_TEST_DATA_DIR)](const fake::RecordedRequest& r) {
    fake::FakeReply reply = model(r);
    static const std::regex improved(R"(^IMPROVED prompt (\d+))");
    std::smatch number;
    const std::string system = texts_of(r).system;
    if (std::regex_search(system, number, improved) && std::stoi(number[1]) % 2 == 1) {
      json body = json::parse(reply.body);
      body["choices"][0]["message"]["content"] = "Counting... Answer: 0";
      reply.body = body.dump();
    }
    return reply;
  };
}

class PipelineTest : public testing::CliFixture {
 protected:
  PipelineTest() : CliFixture(kKey) {}

  void SetUp() override {
    CliFixture::SetUp();
    server_->set_script(mock_with_bad_prompts());
  }

  std::map<std::string, std::string> cache(const std::string& name) const {
    return {{"TEXTGRAD_CACHE_DIR", dir_.file(name)}};
  }

  // A complete pipelined run, the reference the stopped runs are compared with.
  std::string reference_run() {
    const std::string run_dir = dir_.file("reference");
    ProcessResult r = run(optimize_args(run_dir, kSteps), cache("reference-cache"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return run_dir;
  }

  // A run started in the background, with its own cache.
  testing::Process start_run(const std::string& run_dir, const std::string& cache_name) {
    std::vector<std::string> args = optimize_args(run_dir, kSteps);
    args.insert(args.begin(), testing::textgrad_tool());
    auto env = this->env();
    env["TEXTGRAD_CACHE_DIR"] = dir_.file(cache_name);
    return testing::Process(args, env);
  }

  // The first step k < kSteps whose prompt no earlier step had: its test requests are new to
  // the server, so holding them holds step k's test.
  static int step_with_a_new_prompt(const std::string& run_dir) {
    std::set<std::string> seen = {step_json(run_dir, 0)["prompt"]};
    for (int k = 1; k < kSteps; ++k) {
      if (seen.insert(step_json(run_dir, k)["prompt"].get<std::string>()).second) return k;
    }
    return -1;
  }

  // Holds the answers to step k's test requests until release(); ready() once one is held and
  // step k+1's training has reached the server, i.e. while the test overlaps the next step.
  class HoldTest {
   public:
    HoldTest(fake::FakeLlmServer& server, const std::string& reference, int k) {
      const std::string prompt = step_json(reference, k)["prompt"];
      const std::set<std::string> test_inputs = test_inputs_of(reference);
      std::set<std::string> next_inputs;
      const json next_step = step_json(reference, k + 1);  // outlives the loop below
      for (const json& item : next_step["items"]) {
        next_inputs.insert(item["input"]);
      }
      EXPECT_FALSE(test_inputs.empty());
      EXPECT_FALSE(next_inputs.empty());
      std::shared_future<void> released = release_.get_future().share();
      server.set_script(
          [=, this, model = mock_with_bad_prompts()](const fake::RecordedRequest& request) {
            const Texts texts = texts_of(request);
            if (texts.system == prompt && test_inputs.contains(texts.user)) {
              note(held_);
              released.wait();
            } else if (texts.system == prompt && next_inputs.contains(texts.user)) {
              note(next_step_);
            }
            return model(request);
          });
    }
    ~HoldTest() { release(); }

    bool ready() {
      return held_.future.wait_for(std::chrono::minutes(2)) == std::future_status::ready &&
             next_step_.future.wait_for(std::chrono::minutes(2)) == std::future_status::ready;
    }
    void release() {
      std::call_once(released_once_, [this] { release_.set_value(); });
    }

   private:
    struct Signal {
      std::promise<void> promise;
      std::future<void> future = promise.get_future();
      std::once_flag once;
    };
    static void note(Signal& signal) {
      std::call_once(signal.once, [&] { signal.promise.set_value(); });
    }
    Signal held_;
    Signal next_step_;
    std::promise<void> release_;
    std::once_flag released_once_;
  };
};

TEST_F(PipelineTest, PipelinedAndSequentialRunsRecordTheSameSteps) {
  const std::string pipelined = dir_.file("pipelined");
  const std::string sequential = dir_.file("sequential");
  ProcessResult a = run(optimize_args(pipelined, kSteps), cache("cache-a"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto seq_env = cache("cache-b");
  seq_env["TEXTGRAD_SEQUENTIAL_PROTOCOL"] = "1";
  ProcessResult b = run(optimize_args(sequential, kSteps), seq_env);
  ASSERT_EQ(b.exit_code, 0) << b.err;

  // The runs cover accepted and reverted updates (the server's odd prompts count wrong).
  std::set<std::string> decisions;
  for (int k = 1; k <= kSteps; ++k) {
    decisions.insert(step_json(pipelined, k)["parameters"][0]["gate"]["decision"]);
  }
  EXPECT_TRUE(decisions.contains("accepted")) << json(decisions).dump();
  EXPECT_TRUE(decisions.contains("reverted")) << json(decisions).dump();

  const auto files = step_files(pipelined);
  EXPECT_EQ(files.size(), 2u * (kSteps + 1));  // step_NNNN.json and test_NNNN.jsonl
  EXPECT_EQ(files, step_files(sequential));
  EXPECT_EQ(testing::read_text(pipelined + "/final_prompt.txt"),
            testing::read_text(sequential + "/final_prompt.txt"));
  // Every call is counted at its own step, whichever step was running when it was answered.
  EXPECT_EQ(calls_by_step(pipelined), calls_by_step(sequential));
  EXPECT_EQ(traced_calls(pipelined), traced_calls(sequential));
}

// Requests in flight over time: +1 when one arrives, -1 when it is answered, with its user
// text. Owned by the script (Note [Script lifetime]).
struct InFlightLog {
  std::mutex mu;
  std::vector<std::pair<int, std::string>> changes;
  void add(int change, const std::string& user) {
    std::lock_guard lock(mu);
    changes.emplace_back(change, user);
  }
  // The most requests with a user text in `inputs` that were ever in flight at once.
  int peak_of(const std::set<std::string>& inputs) {
    std::lock_guard lock(mu);
    int now = 0;
    int peak = 0;
    for (const auto& [change, user] : changes) {
      if (!inputs.contains(user)) continue;
      now += change;
      peak = std::max(peak, now);
    }
    return peak;
  }
};

// Note [Room for the chain] in tools/textgrad/optimize_run.cpp: at 8 in flight the overlapped
// test leaves two slots to the training chain (a quarter of 8, less than the batch of 3).
TEST_F(PipelineTest, AnOverlappedTestLeavesRoomForTheTrainingChain) {
  auto log = std::make_shared<InFlightLog>();
  server_->set_script([log, model = mock_with_bad_prompts()](const fake::RecordedRequest& r) {
    const std::string user = texts_of(r).user;
    log->add(+1, user);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // answers overlap
    log->add(-1, user);
    return model(r);
  });
  const std::string run_dir = dir_.file("room");
  std::vector<std::string> args = optimize_args(run_dir, 3);
  *(std::find(args.begin(), args.end(), "--test-size") + 1) = "40";
  args.insert(args.end(), {"--max-in-flight", "8"});
  ProcessResult r = run(args, cache("room-cache"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::set<std::string> test_inputs = test_inputs_of(run_dir);
  ASSERT_EQ(test_inputs.size(), 40u);
  EXPECT_EQ(log->peak_of(test_inputs), 6);
}

TEST_F(PipelineTest, AKillDuringAnOverlappedTestResumesToTheSameRun) {
  const std::string reference = reference_run();
  const int k = step_with_a_new_prompt(reference);
  ASSERT_GE(k, 1) << "the mock model changed no prompt";

  HoldTest hold(*server_, reference, k);
  const std::string run_dir = dir_.file("killed");
  testing::Process process = start_run(run_dir, "killed-cache");
  ASSERT_TRUE(hold.ready()) << "step " << k << "'s test never overlapped step " << k + 1;
  process.kill_now();
  EXPECT_EQ(process.wait().exit_code, -1);
  hold.release();

  // Step k was not recorded: its test had not finished.
  EXPECT_TRUE(fs::exists(run_dir + fmt_step(k - 1)));
  EXPECT_FALSE(fs::exists(run_dir + fmt_step(k)));

  ProcessResult resumed = run({"optimize", "--resume", run_dir, "--quiet"}, cache("killed-cache"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(step_files(run_dir), step_files(reference));
  EXPECT_EQ(testing::read_text(run_dir + "/final_prompt.txt"),
            testing::read_text(reference + "/final_prompt.txt"));
}

TEST_F(PipelineTest, ASignalDuringAnOverlappedTestWaitsForItAndLeavesAResumableRun) {
  const std::string reference = reference_run();
  const int k = step_with_a_new_prompt(reference);
  ASSERT_GE(k, 1) << "the mock model changed no prompt";

  HoldTest hold(*server_, reference, k);
  const std::string run_dir = dir_.file("stopped");
  testing::Process process = start_run(run_dir, "stopped-cache");
  ASSERT_TRUE(hold.ready()) << "step " << k << "'s test never overlapped step " << k + 1;
  ASSERT_EQ(::kill(process.pid(), SIGTERM), 0);
  hold.release();  // the run waits for the test in flight
  ProcessResult stopped = process.wait();
  EXPECT_EQ(stopped.exit_code, 143) << stopped.err;

  // What was recorded is a prefix of the reference run: whole steps, in order.
  const auto recorded = step_files(run_dir);
  const auto whole = step_files(reference);
  ASSERT_FALSE(recorded.empty());
  for (const auto& [name, text] : recorded) {
    ASSERT_TRUE(whole.contains(name)) << name;
    EXPECT_EQ(text, whole.at(name)) << name;
  }
  EXPECT_TRUE(fs::exists(run_dir + fmt_step(k - 1)));
  EXPECT_TRUE(fs::exists(run_dir + "/graph.dot"));  // step k + 1 trained before the signal
  const int last = static_cast<int>(recorded.size() / 2) - 1;
  EXPECT_NE(stopped.err.find("everything up to step " + std::to_string(last) + " is saved"),
            std::string::npos)
      << stopped.err;
  std::istringstream lines(testing::read_text(run_dir + "/events.jsonl"));
  std::string line;
  while (std::getline(lines, line)) EXPECT_TRUE(json::parse(line).is_object());

  ProcessResult resumed = run({"optimize", "--resume", run_dir, "--quiet"}, cache("stopped-cache"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(step_files(run_dir), whole);
  EXPECT_EQ(testing::read_text(run_dir + "/final_prompt.txt"),
            testing::read_text(reference + "/final_prompt.txt"));
  EXPECT_EQ(testing::read_text(run_dir + "/graph.dot"),
            testing::read_text(reference + "/graph.dot"));
}

}  // namespace
}  // namespace tg
