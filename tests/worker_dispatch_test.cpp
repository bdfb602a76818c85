// Evaluation workers in one process: the queue URL and the protocol's JSON, and evaluations
// running at once through one optimizer engine, answered by a worker loop on the same queue
// (each gets its own answers, in item order, recorded once in the optimizer's ledger).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "evaluate.h"
#include "support/redis_server.h"
#include "textgrad/budget_guard.h"
#include "textgrad/errors.h"
#include "textgrad/scripted_engine.h"
#include "worker_cmd.h"
#include "worker_dispatch.h"
#include "worker_protocol.h"

namespace tg {
namespace {

using testing::RedisServer;

TEST(WorkerProtocol, QueueUrlSettingsAndErrors) {
  cli::WorkerQueueUrl url = cli::parse_worker_queue_url(
      "redis://:secret@h:7000/3?wait_s=30&lease_ms=2000&items=8&prefix=x:", "--eval-workers");
  EXPECT_EQ(url.redis.host, "h");
  EXPECT_EQ(url.redis.port, 7000);
  EXPECT_EQ(url.redis.db, 3);
  EXPECT_EQ(url.redis.prefix, "x:");
  EXPECT_EQ(url.wait, std::chrono::seconds(30));
  EXPECT_EQ(url.lease, std::chrono::milliseconds(2000));
  EXPECT_EQ(url.items_per_job, 8);
  cli::WorkerQueueUrl plain = cli::parse_worker_queue_url("redis://h", "--queue");
  EXPECT_EQ(plain.wait, std::chrono::seconds(10));
  EXPECT_EQ(plain.items_per_job, 4);
  for (const char* bad : {"redis://h?items=0", "redis://h?wait_s=x", "redis://h?ttl_s=5",
                          "redis://h?lease_ms=5", "redis://h?color=red", "http://h"}) {
    try {
      cli::parse_worker_queue_url(bad, "--eval-workers");
      ADD_FAILURE() << bad;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("--eval-workers"), std::string::npos) << e.what();
    }
  }
}

TEST(WorkerProtocol, QueuesAreSeparatedByModelAndSampling) {
  EngineInfo a{"openai/gpt-4o-mini", "openai", "gpt-4o-mini", true, {}};
  EngineInfo b = a;
  b.endpoint = "http://elsewhere/v1";  // workers may use their own replicas
  EXPECT_EQ(cli::queue_name(a), cli::queue_name(b));
  b.default_sampling.temperature = 0.7;
  EXPECT_NE(cli::queue_name(a), cli::queue_name(b));
  EngineInfo c = a;
  c.name = "openai/gpt-4o";
  EXPECT_NE(cli::queue_name(a), cli::queue_name(c));
}

TEST(WorkerProtocol, JobsAndAnswersRoundTrip) {
  cli::EvalJob job{"Be exact.", {}};
  job.items.push_back({.id = "f#1", .input = "2 + \xff 2?"});  // invalid UTF-8 survives
  const cli::EvalJob back = cli::decode_job(cli::encode_job(job));
  EXPECT_EQ(back.prompt, "Be exact.");
  ASSERT_EQ(back.items.size(), 1u);
  EXPECT_EQ(back.items[0].id, "f#1");
  EXPECT_THROW(cli::decode_job("[1]"), Error);

  Outcome ok;
  ok.response = {"4", {10, 2, 1}, "stop", "m-1", true, 12.5};
  Outcome failed;
  failed.error = std::make_exception_ptr(Error("rate limited"));
  const std::vector<Outcome> answers = cli::decode_answers(cli::encode_answers({ok, failed}), 2);
  EXPECT_EQ(answers[0].response.text, "4");
  EXPECT_EQ(answers[0].response.usage, (Usage{10, 2, 1}));
  EXPECT_EQ(answers[0].response.model, "m-1");
  EXPECT_TRUE(answers[0].response.from_cache);
  EXPECT_DOUBLE_EQ(answers[0].response.latency_ms, 12.5);
  ASSERT_FALSE(answers[1].ok());
  try {
    std::rethrow_exception(answers[1].error);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rate limited"), std::string::npos);
  }
  EXPECT_THROW(cli::decode_answers(cli::encode_answers({ok}), 2), Error);
}

std::string answer_of(const Request& request) {
  return request.system_prompt + "|" + request.user_text();
}

TEST(EvalWorkersInProcess, ConcurrentEvaluationsGetTheirOwnAnswersInItemOrder) {
  if (RedisServer::program().empty()) GTEST_SKIP() << "redis-server is not installed";
  RedisServer redis;
  const std::string url = redis.url() + "?wait_s=600&items=3";
  auto here = std::make_shared<ScriptedEngine>(answer_of);
  auto there = std::make_shared<ScriptedEngine>(answer_of);  // the worker's model

  cli::Engines engines;
  engines.ledger = std::make_shared<Ledger>();
  engines.guard = std::make_shared<BudgetGuard>(engines.ledger, Budget{});
  engines.forward = with_ledger(here, engines.ledger);
  const EnginePtr engine = cli::with_eval_workers(url, engines);

  std::atomic<bool> stop{false};
  std::thread worker([&] {
    auto queue = cli::open_work_queue(cli::parse_worker_queue_url(url, "--queue"), there->info());
    queue->heartbeat("in-process");
    while (!stop) {
      if (auto job = queue->claim()) {
        queue->complete(*job, cli::answer_job(there, job->payload));
      } else {
        std::this_thread::yield();
      }
    }
  });

  std::vector<Example> examples;
  for (int i = 0; i < 10; ++i) {
    examples.push_back({.id = std::to_string(i), .input = "item " + std::to_string(i)});
  }
  cli::Scorer scorer({cli::MetricKind::kExact, ""}, nullptr, [](const std::string&) {});
  cli::Progress progress(/*quiet=*/true, engines.ledger);
  auto evaluate = [&](const std::string& prompt) {
    return cli::evaluate_prompt(engine, prompt, examples, scorer, progress, prompt);
  };
  auto a = std::async(std::launch::async, evaluate, "prompt A");
  auto b = std::async(std::launch::async, evaluate, "prompt B");
  const cli::Evaluation ra = a.get();
  const cli::Evaluation rb = b.get();
  stop = true;
  worker.join();

  ASSERT_EQ(ra.items.size(), 10u);
  ASSERT_EQ(rb.items.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(ra.items[i].prediction, "prompt A|item " + std::to_string(i));
    EXPECT_EQ(rb.items[i].prediction, "prompt B|item " + std::to_string(i));
  }
  EXPECT_EQ(here->calls(), 0);
  EXPECT_EQ(there->calls(), 20);
  EXPECT_EQ(engines.ledger->total().calls, 20);  // each answer recorded once, here
  EXPECT_EQ(engines.ledger->phase(Phase::kEvaluation).calls, 20);
}

}  // namespace
}  // namespace tg
