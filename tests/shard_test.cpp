// Scale-out through the textgrad tool: `eval --shard I/N` in several processes merged into the
// result of one run, processes sharing a Redis cache (each request sent once, one of them
// killed mid-flight), Redis down at start, and `--endpoint` pools with a failing server.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "support/fake_llm_server.h"
#include "support/gate.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "support/redis_server.h"
#include "test_paths.h"

namespace tg {
namespace {

using nlohmann::json;
using testing::Process;
using testing::ProcessResult;
using testing::TempDir;

constexpr const char* kKey = "fake-test-key-scale-0123456789abcdef";

std::string tool() { return std::string(TEXTGRAD_BINARY_DIR) + "/tools/textgrad/textgrad"; }

class ScaleCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<fake::FakeLlmServer>(testing::MockModel(TEXTGRAD_TEST_DATA_DIR));
  }

  std::map<std::string, std::string> env() const {
    return {{"OPENAI_API_KEY", kKey},
            {"OPENAI_BASE_URL", server_->base_url() + "/v1"},
            {"TEXTGRAD_CACHE_DIR", dir_.file("cache")},
            {"TEXTGRAD_DATA_DIR", TEXTGRAD_TEST_DATA_DIR}};
  }

  std::vector<std::string> eval_args(std::vector<std::string> extra) const {
    std::vector<std::string> args{
        tool(),   "eval", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
        "--size", "20",   "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  ProcessResult run(std::vector<std::string> args) const {
    return testing::run_process(args, env());
  }

  TempDir dir_;
  std::unique_ptr<fake::FakeLlmServer> server_;
};

void expect_same_result(const json& a, const json& b) {
  for (const char* field : {"task", "split", "items", "correct", "accuracy", "ci95", "scores"}) {
    EXPECT_EQ(a[field], b[field]) << field;
  }
}

TEST_F(ScaleCliTest, FourShardsMergeToTheResultAndPredictionsOfOneRun) {
  ProcessResult whole = run(eval_args({"--json", "--no-cache"}));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const std::string shards = dir_.file("shards");
  std::vector<std::unique_ptr<Process>> workers;
  for (int i = 0; i < 4; ++i) {
    workers.push_back(std::make_unique<Process>(
        eval_args({"--no-cache", "--shard", std::to_string(i) + "/4", "--shard-dir", shards}),
        env()));
  }
  for (auto& worker : workers) {
    ProcessResult r = worker->wait();
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  ProcessResult merged =
      run({tool(), "merge", shards, "--json", "--output", dir_.file("p4.jsonl")});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  expect_same_result(json::parse(merged.out), json::parse(whole.out));
  EXPECT_EQ(json::parse(merged.out)["calls"], 20);

  // One shard of one is the unsharded run: its predictions file is the same, line for line.
  ASSERT_EQ(run(eval_args({"--shard", "0/1", "--shard-dir", dir_.file("one")})).exit_code, 0);
  ASSERT_EQ(run({tool(), "merge", dir_.file("one"), "--output", dir_.file("p1.jsonl")}).exit_code,
            0);
  const std::string predictions = testing::read_text(dir_.file("p4.jsonl"));
  EXPECT_EQ(predictions, testing::read_text(dir_.file("p1.jsonl")));
  EXPECT_EQ(std::count(predictions.begin(), predictions.end(), '\n'), 20);
  json first = json::parse(predictions.substr(0, predictions.find('\n')));
  EXPECT_EQ(first["index"], 0);
  EXPECT_FALSE(first["prediction"].get<std::string>().empty());
}

TEST_F(ScaleCliTest, MergeRefusesMissingForeignOrRepeatedShards) {
  const std::string shards = dir_.file("shards");
  for (int i : {0, 1, 2}) {
    ASSERT_EQ(
        run(eval_args({"--shard", std::to_string(i) + "/4", "--shard-dir", shards})).exit_code, 0);
  }
  ProcessResult missing = run({tool(), "merge", shards});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("shard 3/4 is missing"), std::string::npos) << missing.err;

  const std::string other = dir_.file("other");
  ASSERT_EQ(
      run(eval_args({"--shard", "3/4", "--shard-dir", other, "--prompt", "Be brief."})).exit_code,
      0);
  ProcessResult foreign = run({tool(), "merge", shards, other});
  EXPECT_EQ(foreign.exit_code, 2);
  EXPECT_NE(foreign.err.find("another evaluation"), std::string::npos) << foreign.err;

  ProcessResult twice = run({tool(), "merge", shards, shards + "/shard-0-of-4.json"});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("given twice"), std::string::npos) << twice.err;

  for (const char* bad : {"4/4", "x/2", "1", "-1/3", "0/0"}) {
    ProcessResult r = run(eval_args({"--shard", bad, "--shard-dir", shards}));
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--shard"), std::string::npos) << r.err;
  }
  EXPECT_EQ(run(eval_args({"--shard", "0/2"})).exit_code, 2);  // no --shard-dir
}

#define SKIP_WITHOUT_REDIS()                                                                  \
  if (testing::RedisServer::program().empty())                                                \
  GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it); the shared " \
                  "cache tests need it"

TEST_F(ScaleCliTest, TwoProcessesSharingRedisSendEachRequestOnce) {
  SKIP_WITHOUT_REDIS();
  testing::RedisServer redis;
  server_->set_script(testing::MockModel(TEXTGRAD_TEST_DATA_DIR, /*delay_ms=*/20));
  auto args = eval_args({"--json", "--max-in-flight", "4", "--cache", redis.url()});
  Process a(args, env());
  Process b(args, env());
  ProcessResult ra = a.wait();
  ProcessResult rb = b.wait();
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  expect_same_result(json::parse(ra.out), json::parse(rb.out));
  EXPECT_EQ(server_->request_count(), 20u);
  EXPECT_EQ(json::parse(ra.out)["calls"].get<int>() + json::parse(rb.out)["calls"].get<int>(), 40);
}

// Holds every answer until opened, counting arrivals, so the test knows requests are in
// flight without sleeping.
using testing::Gate;

TEST_F(ScaleCliTest, KillingOneProcessMidFlightLosesAndDuplicatesNothingInTheOther) {
  SKIP_WITHOUT_REDIS();
  testing::RedisServer redis;
  ProcessResult expected = run(eval_args({"--json", "--no-cache"}));
  ASSERT_EQ(expected.exit_code, 0) << expected.err;
  const std::size_t before = server_->request_count();

  auto gate = std::make_shared<Gate>();
  server_->set_script([gate, model = testing::MockModel(TEXTGRAD_TEST_DATA_DIR)](
                          const fake::RecordedRequest& request) {
    gate->pass();
    return model(request);
  });
  // A short lease, so the survivor takes the dead process's requests over quickly.
  auto args =
      eval_args({"--json", "--max-in-flight", "4", "--cache", redis.url() + "?lease_ms=500"});
  Process doomed(args, env());
  Process survivor(args, env());
  gate->wait_for_arrivals(4);  // requests are in flight, held at the server
  doomed.kill_now();
  doomed.wait();
  gate->release();
  ProcessResult r = survivor.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = json::parse(r.out);
  expect_same_result(out, json::parse(expected.out));
  EXPECT_EQ(out["calls"], 20);  // every item answered, each once
  // Each request reached the server once, plus at most the killed process's in-flight ones.
  const std::size_t sent = server_->request_count() - before;
  EXPECT_GE(sent, 20u);
  EXPECT_LE(sent, 24u);
}

TEST_F(ScaleCliTest, RedisDownAtStartIsAClearErrorNotAHang) {
  const std::string url = "redis://127.0.0.1:" + std::to_string(testing::free_port()) + "/0";
  ProcessResult r = run(eval_args({"--cache", url}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot use the Redis response cache at " + url), std::string::npos)
      << r.err;
  EXPECT_EQ(server_->request_count(), 0u);
  EXPECT_EQ(r.err.find(kKey), std::string::npos);
}

TEST_F(ScaleCliTest, EndpointPoolWithADroppingServerGivesTheSingleServerResult) {
  ProcessResult single = run(eval_args({"--json", "--no-cache"}));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  fake::FakeLlmServer other(testing::MockModel(TEXTGRAD_TEST_DATA_DIR));
  fake::FakeLlmServer dropping(
      [](const fake::RecordedRequest&) { return fake::dropped_connection(); });
  ProcessResult pooled = run(eval_args(
      {"--json", "--no-cache", "--endpoint", server_->base_url() + "/v1", "--endpoint",
       dropping.base_url() + "/v1", "--endpoint",
       R"({"url": ")" + other.base_url() + R"(/v1", "key_env": "POOL_KEY", "max_in_flight": 2})"}));
  EXPECT_EQ(pooled.exit_code, 2);  // POOL_KEY is not set
  EXPECT_NE(pooled.err.find("$POOL_KEY"), std::string::npos) << pooled.err;

  // The same pool from a JSON config file, each endpoint its own entry.
  auto vars = env();
  vars["POOL_KEY"] = "fake-second-key-0123456789abcdef";
  json config = {
      {"eval",
       {{"endpoint",
         {server_->base_url() + "/v1",
          dropping.base_url() + "/v1",
          {{"url", other.base_url() + "/v1"}, {"key_env", "POOL_KEY"}, {"max_in_flight", 2}}}}}}};
  testing::write_text(dir_.file("pool.json"), config.dump());
  std::vector<std::string> args = eval_args({"--json", "--no-cache"});
  args.insert(args.begin() + 1, {"--config", dir_.file("pool.json")});  // before the subcommand
  pooled = testing::run_process(args, vars);
  ASSERT_EQ(pooled.exit_code, 0) << pooled.err;
  expect_same_result(json::parse(pooled.out), json::parse(single.out));
  EXPECT_GT(other.request_count(), 0u);
  EXPECT_EQ(other.requests().front().header("authorization"),
            "Bearer fake-second-key-0123456789abcdef");
  EXPECT_NE(pooled.err.find("endpoint " + dropping.base_url() + "/v1"), std::string::npos)
      << pooled.err;
  EXPECT_NE(pooled.err.find("(out now)"), std::string::npos) << pooled.err;
  EXPECT_EQ(pooled.err.find("fake-second-key"), std::string::npos);
}

}  // namespace
}  // namespace tg
