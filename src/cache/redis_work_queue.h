// A job queue in Redis with leases, for handing work to processes on other machines (the
// evaluation workers of `textgrad optimize --eval-workers`, docs/scale.md). Payloads and
// results are opaque strings; every operation is one Lua script, so each step is atomic.
//
// Note [Work queue: exactly once]
// A producer pushes the jobs of a batch (job ids "<batch>#<index>"; each payload under its
// own key). A worker claims a job (pops it and takes a lease until now + lease), renews the
// lease while it works and completes it: the result is stored only if the job's payload key
// still exists, and the key is deleted in the same script, so a job's result is stored at most
// once. A lease that runs out (its worker died or hung) puts the job back at the head of the
// queue for the next claim; if the first worker still completes it, whoever completes first
// wins and the other result is dropped. The producer may take back a job nobody has claimed
// (it then does the job itself): that deletes the payload, so no worker can complete it. So
// every job of a batch ends with exactly one result, or was taken back; none is lost as long
// as someone keeps calling requeue_expired() (the producer does, while it waits).
//
// Keys, under "<prefix>work:<queue>:": pending (list of job ids), job:<id> (payload),
// leases (sorted set: id -> deadline), results:<batch> (hash: index -> result), workers
// (sorted set: worker -> heartbeat deadline). Payloads and results expire after a day, so a
// producer that dies leaves no garbage for long.
//
// Deadlines are milliseconds since the epoch on the caller's clock (Options::clock), so
// machines sharing a queue need clocks within a fraction of the lease of each other (NTP).
//
// Thread-safe (the store's connections are pooled).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/redis_store.h"

namespace tg::cache {

struct WorkQueueOptions {
  std::chrono::milliseconds lease{15'000};  // a claimed job's, and a worker's heartbeat's
  // Milliseconds since the epoch; empty: the system clock. A seam for tests.
  std::function<std::int64_t()> clock;
};

struct WorkJob {
  std::string id;  // "<batch>#<index>"
  std::string batch;
  int index = 0;
  std::string payload;
};

class RedisWorkQueue {
 public:
  // `queue` names the queue (producers and workers of one kind of work share it).
  RedisWorkQueue(std::shared_ptr<RedisStore> store, std::string queue,
                 WorkQueueOptions options = {});

  // Producer side.
  // Queues payloads[i] as job i of `batch` (a name unique to this batch).
  void push(const std::string& batch, const std::vector<std::string>& payloads);
  // The results of `batch` stored so far, by job index.
  std::map<int, std::string> results(const std::string& batch);
  // Puts jobs whose lease ran out back at the head of the queue; returns how many.
  int requeue_expired();
  // True when job `index` of `batch` was still unclaimed: it is removed and can no longer be
  // completed by anyone. The caller does the work.
  bool take_back(const std::string& batch, int index);
  // Removes what is left of a batch: unclaimed jobs, payloads, results.
  void drop(const std::string& batch, int jobs);
  // Workers whose heartbeat has not run out.
  int live_workers();

  // Worker side.
  std::optional<WorkJob> claim();
  // Extends the lease of jobs this worker holds (those not requeued meanwhile).
  void renew(const std::vector<std::string>& job_ids);
  // Stores the result unless the job was completed or taken back already; returns whether it
  // was stored.
  bool complete(const WorkJob& job, const std::string& result);
  void heartbeat(const std::string& worker);
  void leave(const std::string& worker);

  const std::string& display_url() const { return store_->display_url(); }
  std::chrono::milliseconds lease() const { return options_.lease; }

 private:
  std::int64_t now() const;
  std::string deadline() const;
  std::string key(const std::string& name) const { return base_ + name; }

  std::shared_ptr<RedisStore> store_;
  std::string base_;  // "<prefix>work:<queue>:"
  WorkQueueOptions options_;
};

// "<batch>#<index>" -> batch and index; throws RedisFailure for anything else.
WorkJob parse_job_id(const std::string& id);

}  // namespace tg::cache
