// What evaluation workers and the optimizer that feeds them say to each other through a Redis
// work queue (cache/redis_work_queue.h): the queue's URL and settings, the queue's name, and
// the JSON of a job (a prompt and a slice of items) and of its result (one answer per item).
// docs/scale.md ("Evaluation workers") describes the protocol for people.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cache/redis_work_queue.h"
#include "textgrad/data.h"
#include "textgrad/engine.h"

namespace tg::cli {

// redis://[:password@]host[:port][/db][?lease_ms=..&wait_s=..&items=..&prefix=..]
struct WorkerQueueUrl {
  cache::RedisUrl redis;
  std::chrono::milliseconds lease{15'000};  // lease_ms: a job's lease and a worker's heartbeat
  std::chrono::seconds wait{10};            // wait_s: how long the optimizer waits for a worker
  int items_per_job = 4;                    // items: the size of a job
};
// Throws InvalidArgument naming `flag` and saying what is wrong.
WorkerQueueUrl parse_worker_queue_url(const std::string& url, const std::string& flag);

// Workers serve only the optimizer whose evaluations they would answer identically: the
// queue is named after the model and the sampling defaults (not the endpoint: workers may use
// their own replicas of the model).
std::string queue_name(const EngineInfo& info);

// "<host>-<pid>-<random>": names a worker, or an optimizer's batches, uniquely across machines.
std::string unique_process_name();

std::shared_ptr<cache::RedisWorkQueue> open_work_queue(const WorkerQueueUrl& url,
                                                       const EngineInfo& info);

struct EvalJob {
  std::string prompt;
  std::vector<Example> items;  // id and input only
};
std::string encode_job(const EvalJob& job);
// Throws tg::Error for a payload that is not a job.
EvalJob decode_job(const std::string& payload);

// One Outcome per item, in the job's order: the answer with its usage, cache hit and latency,
// or the error's message.
std::string encode_answers(const std::vector<Outcome>& answers);
std::vector<Outcome> decode_answers(const std::string& result, size_t items);

}  // namespace tg::cli
