// `textgrad optimize --eval-workers` with `textgrad worker` processes, end to end: a private
// redis-server, one fake model server for the optimizer and one for the workers (so the test
// sees who made which call). The step files are those of a single-process run; a worker killed
// mid-job loses and duplicates nothing; with no worker the optimizer evaluates itself after
// the wait, with a warning; Redis down is a clear error before the run directory exists.
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "support/cli_fixture.h"
#include "support/gate.h"
#include "support/redis_server.h"

namespace tg {
namespace {

using nlohmann::json;
using testing::Process;
using testing::ProcessResult;
using testing::RedisServer;

#define SKIP_WITHOUT_REDIS()                                                           \
  if (RedisServer::program().empty())                                                  \
  GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it); the " \
                  "evaluation worker tests need it"

class EvalWorkersTest : public testing::CliFixture {
 protected:
  EvalWorkersTest() : CliFixture("fake-test-key-workers-0123456789abcdef") {}

  void SetUp() override {
    CliFixture::SetUp();
    worker_server_ =
        std::make_unique<fake::FakeLlmServer>(testing::MockModel(TEXTGRAD_TEST_DATA_DIR));
  }

  std::unique_ptr<Process> start_worker(const std::string& queue) const {
    auto vars = env();
    vars["OPENAI_BASE_URL"] = worker_server_->base_url() + "/v1";
    return std::make_unique<Process>(
        std::vector<std::string>{testing::textgrad_tool(), "worker", "--queue", queue, "--engine",
                                 "openai/gpt-4o-mini", "--no-cache", "--jobs", "1"},
        vars);
  }

  std::vector<std::string> optimize(const std::string& run_dir,
                                    std::vector<std::string> extra) const {
    std::vector<std::string> args = optimize_args(run_dir, 2);
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // The single-process run every other run must reproduce.
  void run_single() {
    ProcessResult r = run(optimize(dir_.file("single"), {"--no-cache"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    single_requests_ = server_->request_count();
  }

  std::unique_ptr<fake::FakeLlmServer> worker_server_;
  std::size_t single_requests_ = 0;
};

json without_time(json step) {
  step.erase("time");
  return step;
}

// Every step file and test predictions file of `run` equals the single run's (the step's
// time aside), and so does the final prompt.
void expect_same_steps(const std::string& single, const std::string& run) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(single + "/steps")) {
    const std::string name = entry.path().filename().string();
    const std::string expected = testing::read_text(entry.path().string());
    const std::string actual = testing::read_text(run + "/steps/" + name);
    if (name.ends_with(".json")) {
      EXPECT_EQ(without_time(json::parse(actual)), without_time(json::parse(expected))) << name;
    } else {
      EXPECT_EQ(actual, expected) << name;
    }
    ++files;
  }
  EXPECT_GE(files, 6);  // steps 0..2 and their test predictions
  EXPECT_EQ(testing::read_text(run + "/final_prompt.txt"),
            testing::read_text(single + "/final_prompt.txt"));
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

std::size_t evaluation_calls(const std::string& run_dir) {
  return count_of(testing::read_text(run_dir + "/events.jsonl"), "\"phase\":\"evaluation\"");
}

TEST_F(EvalWorkersTest, TwoWorkersGiveTheStepFilesAndCountsOfASingleProcessRun) {
  SKIP_WITHOUT_REDIS();
  run_single();
  RedisServer redis;
  auto first = start_worker(redis.url());
  auto second = start_worker(redis.url());
  const std::size_t before = server_->request_count();
  // A long wait: the workers may start after the optimizer on a loaded machine.
  ProcessResult r = run(optimize(dir_.file("workers"),
                                 {"--no-cache", "--eval-workers", redis.url() + "?wait_s=300"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("no evaluation worker"), std::string::npos) << r.err;
  expect_same_steps(dir_.file("single"), dir_.file("workers"));

  // The workers made every evaluation call, the optimizer the rest, nothing twice; the run
  // records count the workers' calls as the single run counts its own.
  const std::size_t evaluations = evaluation_calls(dir_.file("single"));
  EXPECT_GT(evaluations, 0u);
  EXPECT_EQ(worker_server_->request_count(), evaluations);
  EXPECT_EQ(server_->request_count() - before + evaluations, single_requests_);
  EXPECT_EQ(evaluation_calls(dir_.file("workers")), evaluations);
  const std::string events = testing::read_text(dir_.file("workers") + "/events.jsonl");
  EXPECT_EQ(
      count_of(events, "\"type\":\"call\""),
      count_of(testing::read_text(dir_.file("single") + "/events.jsonl"), "\"type\":\"call\""));

  // SIGTERM: a worker finishes what it holds, leaves the queue and says what it did.
  for (auto* worker : {first.get(), second.get()}) {
    ::kill(worker->pid(), SIGTERM);
    ProcessResult w = worker->wait();
    EXPECT_EQ(w.exit_code, 0) << w.err;
    EXPECT_NE(w.err.find("jobs,"), std::string::npos) << w.err;
    EXPECT_EQ(w.err.find(key_), std::string::npos);
  }
}

// Holds every answer until opened, counting arrivals, so the test knows a job is in flight
// without sleeping.
using testing::Gate;

TEST_F(EvalWorkersTest, AWorkerKilledMidJobLosesAndDuplicatesNothing) {
  SKIP_WITHOUT_REDIS();
  run_single();
  const std::size_t evaluations = evaluation_calls(dir_.file("single"));
  RedisServer redis;
  auto gate = std::make_shared<Gate>();
  worker_server_->set_script([gate, model = testing::MockModel(TEXTGRAD_TEST_DATA_DIR)](
                                 const fake::RecordedRequest& request) {
    gate->pass();
    return model(request);
  });
  // A short lease, so the dead worker's job comes back quickly.
  const std::string queue = redis.url() + "?lease_ms=300";
  auto doomed = start_worker(queue);
  Process optimizer(
      [&] {
        auto args =
            optimize(dir_.file("workers"), {"--no-cache", "--eval-workers", queue + "&wait_s=300"});
        args.insert(args.begin(), testing::textgrad_tool());
        return args;
      }(),
      env());
  gate->wait_for_arrivals(4);  // the doomed worker's first job (4 items) is at the server
  doomed->kill_now();
  doomed->wait();
  auto survivor = start_worker(queue);
  gate->release();
  ProcessResult r = optimizer.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_steps(dir_.file("single"), dir_.file("workers"));
  // Each evaluation answer recorded once; the dead worker's job sent again, nothing else.
  EXPECT_EQ(evaluation_calls(dir_.file("workers")), evaluations);
  EXPECT_GE(worker_server_->request_count(), evaluations + 4);
  EXPECT_LE(worker_server_->request_count(), evaluations + 4);
  survivor->kill_now();
}

TEST_F(EvalWorkersTest, RedisDyingMidRunLeavesTheRestOfTheRunToTheOptimizer) {
  SKIP_WITHOUT_REDIS();
  run_single();
  auto redis = std::make_unique<RedisServer>();
  auto gate = std::make_shared<Gate>();
  worker_server_->set_script([gate, model = testing::MockModel(TEXTGRAD_TEST_DATA_DIR)](
                                 const fake::RecordedRequest& request) {
    gate->pass();
    return model(request);
  });
  auto worker = start_worker(redis->url());
  std::vector<std::string> args = optimize(
      dir_.file("workers"), {"--no-cache", "--eval-workers", redis->url() + "?wait_s=300"});
  args.insert(args.begin(), testing::textgrad_tool());
  Process optimizer(args, env());
  gate->wait_for_arrivals(4);  // the optimizer is waiting on the worker's first job
  redis->kill_now();
  gate->release();
  ProcessResult r = optimizer.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_steps(dir_.file("single"), dir_.file("workers"));
  EXPECT_EQ(count_of(r.err, "the evaluation work queue failed"), 1u) << r.err;
  EXPECT_EQ(evaluation_calls(dir_.file("workers")), evaluation_calls(dir_.file("single")));
  worker->kill_now();
}

TEST_F(EvalWorkersTest, WithoutWorkersTheOptimizerEvaluatesItselfAfterTheWait) {
  SKIP_WITHOUT_REDIS();
  run_single();
  RedisServer redis;
  ProcessResult r = run(
      optimize(dir_.file("alone"), {"--no-cache", "--eval-workers", redis.url() + "?wait_s=0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_steps(dir_.file("single"), dir_.file("alone"));
  EXPECT_EQ(count_of(r.err, "no evaluation worker is listening on " + redis.url()), 1u) << r.err;
  EXPECT_NE(r.err.find("textgrad worker --queue"), std::string::npos) << r.err;
  EXPECT_EQ(worker_server_->request_count(), 0u);
}

TEST_F(EvalWorkersTest, RedisDownOrABadUrlStopsBeforeTheRunDirectoryExists) {
  const std::string url = "redis://127.0.0.1:" + std::to_string(testing::free_port()) + "/0";
  ProcessResult down = run(optimize(dir_.file("down"), {"--eval-workers", url}));
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("cannot use the evaluation work queue at " + url), std::string::npos)
      << down.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("down")));
  EXPECT_EQ(server_->request_count(), 0u);

  ProcessResult bad = run(optimize(dir_.file("bad"), {"--eval-workers", url + "?items=0"}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--eval-workers: items must be"), std::string::npos) << bad.err;
  ProcessResult worker =
      run({"worker", "--queue", "http://host", "--engine", "openai/gpt-4o-mini"});
  EXPECT_EQ(worker.exit_code, 2);
  EXPECT_NE(worker.err.find("is not a Redis URL"), std::string::npos) << worker.err;
}

}  // namespace
}  // namespace tg
