// The Redis work queue behind evaluation workers (cache/redis_work_queue.h), against a private
// redis-server, with a manual clock: every job ends with exactly one result or is taken back;
// a dead worker's lease runs out and its job goes to the next claim; a late result of a
// requeued job is dropped; workers count as alive while their heartbeat runs.
#include <gtest/gtest.h>

#include <atomic>

#include "cache/redis_work_queue.h"
#include "support/redis_server.h"

namespace tg {
namespace {

using cache::RedisWorkQueue;
using cache::WorkJob;
using testing::RedisServer;

#define SKIP_WITHOUT_REDIS()                                                                \
  if (RedisServer::program().empty())                                                       \
  GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it); the work " \
                  "queue tests need it"

class WorkQueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<RedisWorkQueue> queue(const std::string& name = "q") {
    cache::RedisSettings settings;
    settings.url = cache::parse_redis_url(redis_->url());
    return std::make_unique<RedisWorkQueue>(
        std::make_shared<cache::RedisStore>(settings), name,
        cache::WorkQueueOptions{std::chrono::milliseconds(1000), [this] { return now_.load(); }});
  }
  void SetUp() override {
    if (RedisServer::program().empty()) return;
    redis_ = std::make_unique<RedisServer>();
  }

  std::unique_ptr<RedisServer> redis_;
  std::atomic<std::int64_t> now_{1'000'000};
};

TEST_F(WorkQueueTest, JobsAreClaimedInOrderAndEachResultIsStoredOnce) {
  SKIP_WITHOUT_REDIS();
  auto producer = queue();
  auto worker = queue();
  producer->push("b1", {"zero", "one", "two"});
  std::vector<WorkJob> claimed;
  while (auto job = worker->claim()) claimed.push_back(*job);
  ASSERT_EQ(claimed.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(claimed[i].batch, "b1");
    EXPECT_EQ(claimed[i].index, i);
  }
  EXPECT_EQ(claimed[1].payload, "one");
  EXPECT_TRUE(worker->complete(claimed[1], "r1"));
  EXPECT_FALSE(worker->complete(claimed[1], "again"));  // a second result is dropped
  EXPECT_TRUE(worker->complete(claimed[0], "r0"));
  EXPECT_EQ(producer->results("b1"), (std::map<int, std::string>{{0, "r0"}, {1, "r1"}}));
  // Another queue name is another queue.
  EXPECT_FALSE(queue("other")->claim());
}

TEST_F(WorkQueueTest, AnExpiredLeaseRequeuesTheJobAndTheLateResultIsDropped) {
  SKIP_WITHOUT_REDIS();
  auto producer = queue();
  auto dead = queue();
  auto alive = queue();
  producer->push("b", {"p0", "p1"});
  WorkJob first = *dead->claim();
  WorkJob second = *alive->claim();
  now_ += 900;
  alive->renew({second.id});  // the live worker renews, the dead one does not
  EXPECT_EQ(producer->requeue_expired(), 0);
  now_ += 200;  // past the dead worker's lease, within the renewed one
  EXPECT_EQ(producer->requeue_expired(), 1);
  std::optional<WorkJob> again = alive->claim();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, first.id);
  EXPECT_EQ(again->payload, "p0");
  EXPECT_FALSE(alive->claim());
  EXPECT_TRUE(alive->complete(*again, "from the live worker"));
  EXPECT_FALSE(dead->complete(first, "from the worker thought dead"));
  EXPECT_TRUE(alive->complete(second, "r1"));
  EXPECT_EQ(producer->results("b"),
            (std::map<int, std::string>{{0, "from the live worker"}, {1, "r1"}}));
}

TEST_F(WorkQueueTest, ATakenBackJobCanNoLongerBeClaimedOrCompleted) {
  SKIP_WITHOUT_REDIS();
  auto producer = queue();
  auto worker = queue();
  producer->push("b", {"p0", "p1"});
  WorkJob claimed = *worker->claim();         // job 0
  EXPECT_FALSE(producer->take_back("b", 0));  // claimed: not taken back
  EXPECT_TRUE(producer->take_back("b", 1));
  EXPECT_FALSE(producer->take_back("b", 1));
  EXPECT_FALSE(worker->claim());
  WorkJob one{"b#1", "b", 1, "p1"};
  EXPECT_FALSE(worker->complete(one, "too late"));
  EXPECT_TRUE(worker->complete(claimed, "r0"));
  producer->drop("b", 2);
  EXPECT_TRUE(producer->results("b").empty());
}

TEST_F(WorkQueueTest, WorkersAreAliveWhileTheirHeartbeatRuns) {
  SKIP_WITHOUT_REDIS();
  auto producer = queue();
  auto worker = queue();
  EXPECT_EQ(producer->live_workers(), 0);
  worker->heartbeat("w1");
  worker->heartbeat("w2");
  EXPECT_EQ(producer->live_workers(), 2);
  worker->leave("w2");
  EXPECT_EQ(producer->live_workers(), 1);
  now_ += 1001;
  EXPECT_EQ(producer->live_workers(), 0);
}

TEST(WorkJobId, ParsesBatchAndIndexOrRefuses) {
  WorkJob job = cache::parse_job_id("host-12-ab#3#17");
  EXPECT_EQ(job.batch, "host-12-ab#3");
  EXPECT_EQ(job.index, 17);
  for (const char* bad : {"nohash", "b#", "b#x", "b#-1"}) {
    EXPECT_THROW(cache::parse_job_id(bad), cache::RedisFailure) << bad;
  }
}

}  // namespace
}  // namespace tg
