#include "cache/redis_work_queue.h"

#include <charconv>

namespace tg::cache {
namespace {

// Payloads and results outlive a producer that died by a day at most.
constexpr const char* kKeepMs = "86400000";

// ARGV: key base, the new lease deadline. Skips ids whose job was completed or taken back.
constexpr std::string_view kClaimScript = R"lua(
while true do
  local id = redis.call('RPOP', ARGV[1] .. 'pending')
  if not id then return nil end
  local payload = redis.call('GET', ARGV[1] .. 'job:' .. id)
  if payload then
    redis.call('ZADD', ARGV[1] .. 'leases', ARGV[2], id)
    return {id, payload}
  end
end)lua";

// KEYS: leases. ARGV: deadline, ids...
constexpr std::string_view kRenewScript = R"lua(
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i]) end
end
return 1)lua";

// KEYS: leases, job key, results. ARGV: id, index, result, keep ms.
constexpr std::string_view kCompleteScript = R"lua(
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('DEL', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 1)lua";

// KEYS: leases, pending. ARGV: now, key base.
constexpr std::string_view kRequeueScript = R"lua(
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  if redis.call('EXISTS', ARGV[2] .. 'job:' .. id) == 1 then redis.call('RPUSH', KEYS[2], id) end
end
return #expired)lua";

// KEYS: pending, job key. ARGV: id.
constexpr std::string_view kTakeBackScript = R"lua(
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
return 1)lua";

// KEYS: workers. ARGV: now.
constexpr std::string_view kLiveWorkersScript = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1]))lua";

std::string job_id(const std::string& batch, int index) {
  return batch + "#" + std::to_string(index);
}

bool is_one(const std::vector<std::string>& reply) { return !reply.empty() && reply[0] == "1"; }

}  // namespace

WorkJob parse_job_id(const std::string& id) {
  const size_t hash = id.rfind('#');
  WorkJob job;
  if (hash != std::string::npos) {
    auto [end, error] = std::from_chars(id.data() + hash + 1, id.data() + id.size(), job.index);
    if (error == std::errc() && end == id.data() + id.size() && job.index >= 0) {
      job.id = id;
      job.batch = id.substr(0, hash);
      return job;
    }
  }
  throw RedisFailure("the work queue holds a job id that is not <batch>#<index>: '" + id + "'");
}

RedisWorkQueue::RedisWorkQueue(std::shared_ptr<RedisStore> store, std::string queue,
                               WorkQueueOptions options)
    : store_(std::move(store)),
      base_(store_->key_prefix() + "work:" + queue + ":"),
      options_(std::move(options)) {}

std::int64_t RedisWorkQueue::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RedisWorkQueue::deadline() const {
  return std::to_string(now() + options_.lease.count());
}

void RedisWorkQueue::push(const std::string& batch, const std::vector<std::string>& payloads) {
  // Payloads first, then the ids, so a claimed id always finds its payload.
  for (size_t i = 0; i < payloads.size(); ++i) {
    store_->script("return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])",
                   {key("job:" + job_id(batch, static_cast<int>(i)))}, {payloads[i], kKeepMs});
  }
  std::vector<std::string> args;
  for (size_t i = 0; i < payloads.size(); ++i) args.push_back(job_id(batch, static_cast<int>(i)));
  if (!args.empty()) {
    store_->script("return redis.call('LPUSH', KEYS[1], unpack(ARGV))", {key("pending")}, args);
  }
}

std::map<int, std::string> RedisWorkQueue::results(const std::string& batch) {
  const std::vector<std::string> flat =
      store_->script("return redis.call('HGETALL', KEYS[1])", {key("results:" + batch)}, {});
  std::map<int, std::string> out;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) out[std::stoi(flat[i])] = flat[i + 1];
  return out;
}

int RedisWorkQueue::requeue_expired() {
  const auto reply = store_->script(kRequeueScript, {key("leases"), key("pending")},
                                    {std::to_string(now()), base_});
  return reply.empty() ? 0 : std::stoi(reply[0]);
}

bool RedisWorkQueue::take_back(const std::string& batch, int index) {
  const std::string id = job_id(batch, index);
  return is_one(store_->script(kTakeBackScript, {key("pending"), key("job:" + id)}, {id}));
}

void RedisWorkQueue::drop(const std::string& batch, int jobs) {
  for (int i = 0; i < jobs; ++i) take_back(batch, i);
  for (int i = 0; i < jobs; ++i) {
    store_->script("return redis.call('DEL', KEYS[1])", {key("job:" + job_id(batch, i))}, {});
  }
  store_->script("return redis.call('DEL', KEYS[1])", {key("results:" + batch)}, {});
}

int RedisWorkQueue::live_workers() {
  const auto reply = store_->script(kLiveWorkersScript, {key("workers")}, {std::to_string(now())});
  return reply.empty() ? 0 : std::stoi(reply[0]);
}

std::optional<WorkJob> RedisWorkQueue::claim() {
  const std::vector<std::string> reply = store_->script(kClaimScript, {}, {base_, deadline()});
  if (reply.size() != 2) return std::nullopt;
  WorkJob job = parse_job_id(reply[0]);
  job.payload = reply[1];
  return job;
}

void RedisWorkQueue::renew(const std::vector<std::string>& job_ids) {
  if (job_ids.empty()) return;
  std::vector<std::string> args{deadline()};
  args.insert(args.end(), job_ids.begin(), job_ids.end());
  store_->script(kRenewScript, {key("leases")}, args);
}

bool RedisWorkQueue::complete(const WorkJob& job, const std::string& result) {
  return is_one(store_->script(kCompleteScript,
                               {key("leases"), key("job:" + job.id), key("results:" + job.batch)},
                               {job.id, std::to_string(job.index), result, kKeepMs}));
}

void RedisWorkQueue::heartbeat(const std::string& worker) {
  store_->script("return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])", {key("workers")},
                 {deadline(), worker});
}

void RedisWorkQueue::leave(const std::string& worker) {
  store_->script("return redis.call('ZREM', KEYS[1], ARGV[1])", {key("workers")}, {worker});
}

}  // namespace tg::cache
