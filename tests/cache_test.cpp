// The response cache: keys, modes, single-flight, robustness, persistence, maintenance.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "support/fake_llm_server.h"
#include "textgrad/cache.h"
#include "textgrad/engines.h"
#include "textgrad/errors.h"
#include "textgrad/scripted_engine.h"

namespace tg {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Answers "<user text> #<call number>", so a repeated text proves the answer was cached.
std::shared_ptr<ScriptedEngine> numbered_engine(ScriptedEngine::Options options = {}) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  return std::make_shared<ScriptedEngine>(
      [calls](const Request& r) { return r.user_text() + " #" + std::to_string(++*calls); },
      std::move(options));
}

// Forwards to a scripted engine but reports another identity (provider, model, defaults).
class DisguisedEngine : public Engine {
 public:
  DisguisedEngine(std::shared_ptr<ScriptedEngine> inner, EngineInfo info)
      : inner_(std::move(inner)), info_(std::move(info)) {}
  EngineInfo info() const override { return info_; }
  void submit(Request request, std::function<void(Outcome)> done) override {
    inner_->submit(std::move(request), std::move(done));
  }

 private:
  std::shared_ptr<ScriptedEngine> inner_;
  EngineInfo info_;
};

Request full_request() {
  Request r;
  r.system_prompt = "be terse";
  r.content = {ContentPart::Text("what is in the picture?"),
               ContentPart::Image("image/png", std::string("\x89PNG\r\n\x1a\n\x01\x02", 10))};
  SamplingParams s;
  s.temperature = 0.0;
  s.max_tokens = 100;
  s.top_p = 0.9;
  s.seed = 7;
  s.stop = {"END"};
  s.json_schema = R"({"type":"object"})";
  s.json_schema_name = "answer";
  r.sampling = s;
  return r;
}

EngineInfo scripted_info() { return ScriptedEngine::echo()->info(); }

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/textgrad-cache-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/responses.sqlite3";
  }
  void TearDown() override { fs::remove_all(dir_); }

  CacheOptions options(CacheMode mode = CacheMode::kReadWrite) {
    CacheOptions o;
    o.path = path_;
    o.mode = mode;
    o.on_warning = [this](const std::string& message) {
      std::lock_guard lock(mu_);
      warnings_.push_back(message);
    };
    return o;
  }
  std::shared_ptr<CachingEngine> cached(EnginePtr inner, CacheOptions o) {
    return std::make_shared<CachingEngine>(std::move(inner), std::move(o));
  }
  std::shared_ptr<CachingEngine> cached(EnginePtr inner, CacheMode mode = CacheMode::kReadWrite) {
    return cached(std::move(inner), options(mode));
  }
  std::vector<std::string> warnings() {
    std::lock_guard lock(mu_);
    return warnings_;
  }
  void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  std::string dir_;
  std::string path_;
  std::mutex mu_;
  std::vector<std::string> warnings_;
};

// --- Keys ---

TEST(CacheKey, IsStableLowercaseHex) {
  std::string key = cache_key(scripted_info(), full_request());
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(key, cache_key(scripted_info(), full_request()));
  // Pins the serialization: if this changes, every existing cache silently misses, so the
  // version string in key.cpp must be bumped on purpose together with this value.
  EXPECT_EQ(cache_key(scripted_info(), Request::Text("hello", "system")),
            "c714533dc38088c1e0119c5b4cf6ccd8425575c9bf1c1637f87b3c1f41393fed");
}

TEST(CacheKey, EveryPartOfTheRequestCounts) {
  const EngineInfo info = scripted_info();
  std::vector<std::pair<std::string, std::function<void(EngineInfo&, Request&)>>> variants = {
      {"base", [](EngineInfo&, Request&) {}},
      {"system", [](EngineInfo&, Request& r) { r.system_prompt += "!"; }},
      {"no system", [](EngineInfo&, Request& r) { r.system_prompt.clear(); }},
      {"text", [](EngineInfo&, Request& r) { r.content[0].text += "?"; }},
      {"image byte", [](EngineInfo&, Request& r) { r.content[1].data.back() ^= 1; }},
      {"image type", [](EngineInfo&, Request& r) { r.content[1].media_type = "image/jpeg"; }},
      {"image as text",
       [](EngineInfo&, Request& r) { r.content[1] = ContentPart::Text(r.content[1].data); }},
      {"part order", [](EngineInfo&, Request& r) { std::swap(r.content[0], r.content[1]); }},
      {"extra part", [](EngineInfo&, Request& r) { r.content.push_back(ContentPart::Text("")); }},
      {"temperature", [](EngineInfo&, Request& r) { r.sampling->temperature = 0.7; }},
      {"temperature unset", [](EngineInfo&, Request& r) { r.sampling->temperature.reset(); }},
      {"max_tokens", [](EngineInfo&, Request& r) { r.sampling->max_tokens = 101; }},
      {"max_tokens unset", [](EngineInfo&, Request& r) { r.sampling->max_tokens.reset(); }},
      {"top_p", [](EngineInfo&, Request& r) { r.sampling->top_p = 0.95; }},
      {"seed", [](EngineInfo&, Request& r) { r.sampling->seed = 8; }},
      {"seed unset", [](EngineInfo&, Request& r) { r.sampling->seed.reset(); }},
      {"stop", [](EngineInfo&, Request& r) { r.sampling->stop.push_back("STOP"); }},
      {"no stop", [](EngineInfo&, Request& r) { r.sampling->stop.clear(); }},
      {"schema", [](EngineInfo&, Request& r) { r.sampling->json_schema = "{}"; }},
      {"schema name", [](EngineInfo&, Request& r) { r.sampling->json_schema_name = "x"; }},
      {"no schema", [](EngineInfo&, Request& r) { r.sampling->json_schema.clear(); }},
      {"sample index", [](EngineInfo&, Request& r) { r.sample_index = 1; }},
      {"provider", [](EngineInfo& i, Request&) { i.provider = "openai"; }},
      {"wire format", [](EngineInfo& i, Request&) { i.wire_format = "openai"; }},
      {"endpoint", [](EngineInfo& i, Request&) { i.endpoint = "http://127.0.0.1:1/v1"; }},
      {"model", [](EngineInfo& i, Request&) { i.model = "gpt-4o"; }},
  };
  std::map<std::string, std::string> seen;  // key -> variant
  for (auto& [name, mutate] : variants) {
    EngineInfo i = info;
    Request r = full_request();
    mutate(i, r);
    auto [it, inserted] = seen.emplace(cache_key(i, r), name);
    EXPECT_TRUE(inserted) << name << " collides with " << it->second;
  }
}

TEST(CacheKey, FieldBoundariesCannotCollide) {
  const EngineInfo info = scripted_info();
  Request ab_c, a_bc;
  ab_c.content = {ContentPart::Text("ab"), ContentPart::Text("c")};
  a_bc.content = {ContentPart::Text("a"), ContentPart::Text("bc")};
  EXPECT_NE(cache_key(info, ab_c), cache_key(info, a_bc));

  Request system_in_prompt = Request::Text("sx", "");
  Request system_apart = Request::Text("x", "s");
  EXPECT_NE(cache_key(info, system_in_prompt), cache_key(info, system_apart));

  Request stop_ab = full_request(), stop_a_b = full_request();
  stop_ab.sampling->stop = {"ab"};
  stop_a_b.sampling->stop = {"a", "b"};
  EXPECT_NE(cache_key(info, stop_ab), cache_key(info, stop_a_b));

  EngineInfo provider_model = info, provider_model2 = info;
  provider_model.provider = "ab";
  provider_model.model = "c";
  provider_model2.provider = "a";
  provider_model2.model = "bc";
  EXPECT_NE(cache_key(provider_model, ab_c), cache_key(provider_model2, ab_c));
}

TEST(CacheKey, IgnoresWhatCannotChangeTheAnswer) {
  const EngineInfo info = scripted_info();
  Request base = full_request();
  const std::string key = cache_key(info, base);

  Request phase = base;
  phase.phase = Phase::kEvaluation;
  EXPECT_EQ(cache_key(info, phase), key);

  EngineInfo renamed = info;
  renamed.name = "another name";
  renamed.accepts_images = false;
  EXPECT_EQ(cache_key(renamed, base), key);

  // Without a schema the schema name is never sent.
  Request no_schema = base, no_schema_other_name = base;
  no_schema.sampling->json_schema.clear();
  no_schema_other_name.sampling->json_schema.clear();
  no_schema_other_name.sampling->json_schema_name = "other";
  EXPECT_EQ(cache_key(info, no_schema), cache_key(info, no_schema_other_name));
}

TEST(CacheKey, UnsetSamplingMeansTheEngineDefaults) {
  EngineInfo info = scripted_info();
  info.default_sampling.temperature = 0.7;
  info.default_sampling.max_tokens = 50;
  Request without = Request::Text("q");
  Request with_defaults = Request::Text("q");
  with_defaults.sampling = info.default_sampling;
  Request with_library_defaults = Request::Text("q");
  with_library_defaults.sampling = SamplingParams{};
  EXPECT_EQ(cache_key(info, without), cache_key(info, with_defaults));
  EXPECT_NE(cache_key(info, without), cache_key(info, with_library_defaults));
}

// --- Basic behaviour ---

TEST_F(CacheTest, SecondIdenticalRequestIsAHit) {
  auto inner = numbered_engine();
  auto engine = cached(inner);
  Request request = full_request();
  Response first = engine->generate(request);
  Response second = engine->generate(request);
  EXPECT_EQ(inner->calls(), 1);
  EXPECT_FALSE(first.from_cache);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.latency_ms, 0);
  EXPECT_EQ(second.text, first.text);
  EXPECT_EQ(second.usage, first.usage);
  EXPECT_EQ(second.finish_reason, first.finish_reason);
  EXPECT_EQ(second.model, first.model);

  engine->flush();  // now from the file rather than from memory
  Response third = engine->generate(request);
  EXPECT_TRUE(third.from_cache);
  EXPECT_EQ(third.text, first.text);
  EXPECT_EQ(third.usage, first.usage);
  EXPECT_EQ(inner->calls(), 1);

  CacheCounters counters = engine->counters();
  EXPECT_EQ(counters.hits, 2);
  EXPECT_EQ(counters.misses, 1);
  EXPECT_EQ(counters.stored, 1);
  Usage saved = first.usage;
  saved += first.usage;
  EXPECT_EQ(counters.saved, saved);
  EXPECT_TRUE(warnings().empty());
}

TEST_F(CacheTest, DifferentRequestsAreDifferentEntries) {
  auto inner = numbered_engine();
  auto engine = cached(inner);
  Request base = Request::Text("q", "s");
  Request hot = base;
  hot.sampling = SamplingParams{};
  hot.sampling->temperature = 1.0;
  Request seeded = base;
  seeded.sampling = SamplingParams{};
  seeded.sampling->seed = 3;
  Request second_sample = base;
  second_sample.sample_index = 1;
  std::set<std::string> texts;
  for (const Request& r : {base, hot, seeded, second_sample})
    texts.insert(engine->generate(r).text);
  EXPECT_EQ(texts.size(), 4u);
  EXPECT_EQ(inner->calls(), 4);
  for (const Request& r : {base, hot, seeded, second_sample}) {
    EXPECT_TRUE(engine->generate(r).from_cache);
  }
  EXPECT_EQ(inner->calls(), 4);
}

TEST_F(CacheTest, ModelIsPartOfTheKey) {
  auto model_a = numbered_engine({.name = "model-a"});
  auto model_b = numbered_engine({.name = "model-b"});
  auto model_a_again = numbered_engine({.name = "model-a"});
  cached(model_a)->generate("q");
  cached(model_b)->generate("q");
  cached(model_a_again)->generate("q");
  EXPECT_EQ(model_a->calls(), 1);
  EXPECT_EQ(model_b->calls(), 1);
  EXPECT_EQ(model_a_again->calls(), 0);
}

// Two servers serving a model of the same name must never answer for each other, whether they
// differ by base URL only or by provider too, and replay must not cross over either.
TEST_F(CacheTest, EndpointAndProviderArePartOfTheKey) {
  fake::FakeLlmServer server_a(
      [](const fake::RecordedRequest& r) { return fake::reply_for(r, "from A"); });
  fake::FakeLlmServer server_b(
      [](const fake::RecordedRequest& r) { return fake::reply_for(r, "from B"); });
  const auto engine_at = [](std::string_view name, const fake::FakeLlmServer& server) {
    EngineOptions options;
    options.base_url = server.base_url() + "/v1";
    options.api_key = "fake-test-key-0123456789";
    options.max_retries = 0;
    return make_engine(name, options);
  };
  EXPECT_EQ(cached(engine_at("openai/llama3", server_a))->generate("q").text, "from A");
  EXPECT_EQ(cached(engine_at("openai/llama3", server_b))->generate("q").text, "from B");
  EXPECT_EQ(cached(engine_at("ollama/llama3", server_a))->generate("q").text, "from A");
  EXPECT_EQ(server_a.request_count(), 2u);  // openai/ and ollama/ on A: two providers
  EXPECT_EQ(server_b.request_count(), 1u);

  // Replay: each endpoint gets its own answer back, and an unrecorded one gets none.
  EXPECT_EQ(cached(engine_at("openai/llama3", server_b), CacheMode::kReplay)->generate("q").text,
            "from B");
  EXPECT_EQ(cached(engine_at("ollama/llama3", server_a), CacheMode::kReplay)->generate("q").text,
            "from A");
  auto unrecorded = cached(engine_at("ollama/llama3", server_b), CacheMode::kReplay);
  try {
    unrecorded->generate("q");
    ADD_FAILURE() << "replay served another endpoint's answer";
  } catch (const EngineError& error) {
    EXPECT_EQ(error.kind(), EngineErrorKind::kOffline);
  }
  EXPECT_EQ(server_a.request_count(), 2u);
  EXPECT_EQ(server_b.request_count(), 1u);
}

TEST(EngineInfoTest, NamesProviderWireFormatAndEndpointWithoutCredentials) {
  EngineOptions options;
  options.api_key = "fake-test-key-0123456789";
  options.base_url = "http://user:secret-pass@127.0.0.1:9/v1/?key=abc";
  const EngineInfo info = make_engine("groq/llama3", options)->info();
  EXPECT_EQ(info.provider, "groq");
  EXPECT_EQ(info.wire_format, "openai");
  EXPECT_EQ(info.endpoint, "http://127.0.0.1:9/v1");
  options.base_url = "https://example.openai.azure.com/";
  const EngineInfo azure = make_engine("azure/my-deployment", options)->info();
  EXPECT_EQ(azure.provider, "azure");
  EXPECT_EQ(azure.endpoint, "https://example.openai.azure.com/openai/deployments/my-deployment");
}

// Every prompt and answer is in the cache: only its owner may read it.
TEST_F(CacheTest, CreatesPrivateDirectoriesAndFile) {
  path_ = dir_ + "/new/dir/responses.sqlite3";
  cached(numbered_engine())->generate("q");
  const auto mode = [](const std::string& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return info.st_mode & 0777;
  };
  EXPECT_EQ(mode(path_), 0600u);
  EXPECT_EQ(mode(dir_ + "/new/dir"), 0700u);
  EXPECT_EQ(mode(dir_ + "/new"), 0700u);
}

// A cache on read-only media (here: a file and directory its user cannot write) still answers
// lookups and replays; new answers are not stored, with one warning. Run as an unprivileged
// user in a child process, since permissions do not bind root.
TEST_F(CacheTest, ReadOnlyCacheAnswersLookupsAndSkipsStores) {
  cached(numbered_engine())->generate("recorded");
  ASSERT_EQ(::chmod(path_.c_str(), 0444), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) _exit(10);
    if (!cached(numbered_engine(), CacheMode::kReplay)->generate("recorded").from_cache) _exit(1);
    auto inner = numbered_engine();
    {
      auto engine = cached(inner);
      if (!engine->generate("recorded").from_cache) _exit(2);
      if (engine->generate("new").from_cache) _exit(3);
    }
    if (inner->calls() != 1) _exit(4);
    const std::vector<std::string> seen = warnings();
    if (seen.size() != 1 || seen[0].find("read-only") == std::string::npos) _exit(5);
    _exit(0);
  }
  int status = -1;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ::chmod(dir_.c_str(), 0700);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the _exit codes in the child";
}

TEST_F(CacheTest, PhaseIsNotPartOfTheKey) {
  auto inner = numbered_engine();
  auto engine = cached(inner);
  engine->generate(Request::Text("q", "s", Phase::kForward));
  Response again = engine->generate(Request::Text("q", "s", Phase::kEvaluation));
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(inner->calls(), 1);
}

TEST_F(CacheTest, RequestWithoutSamplingMatchesTheEngineDefaults) {
  EngineInfo info = scripted_info();
  info.provider = "fake";
  info.model = "fake-1";
  info.default_sampling.temperature = 0.7;
  info.default_sampling.max_tokens = 64;
  auto scripted = numbered_engine();
  auto engine = cached(std::make_shared<DisguisedEngine>(scripted, info));

  engine->generate(Request::Text("q"));
  Request explicit_defaults = Request::Text("q");
  explicit_defaults.sampling = info.default_sampling;
  EXPECT_TRUE(engine->generate(explicit_defaults).from_cache);
  EXPECT_EQ(scripted->calls(), 1);

  Request library_defaults = Request::Text("q");
  library_defaults.sampling = SamplingParams{};
  EXPECT_FALSE(engine->generate(library_defaults).from_cache);
  EXPECT_EQ(scripted->calls(), 2);
}

TEST_F(CacheTest, InfoIsTheInnerEngines) {
  EngineInfo info = scripted_info();
  info.name = "fake/fake-1";
  info.default_sampling.seed = 5;
  auto engine = cached(std::make_shared<DisguisedEngine>(numbered_engine(), info));
  EXPECT_EQ(engine->info().name, "fake/fake-1");
  EXPECT_EQ(engine->info().default_sampling, info.default_sampling);
  EXPECT_EQ(engine->path(), path_);
  EXPECT_EQ(engine->mode(), CacheMode::kReadWrite);
}

TEST_F(CacheTest, BinaryAnswersRoundTrip) {
  const std::string binary("a\0b\xff\xfe c", 7);
  auto inner = std::make_shared<ScriptedEngine>([&](const Request&) { return binary; });
  cached(inner)->generate("q");
  Response hit = cached(numbered_engine())->generate("q");
  EXPECT_TRUE(hit.from_cache);
  EXPECT_EQ(hit.text, binary);
}

TEST_F(CacheTest, CountersOnlyForCachedEngines) {
  auto inner = numbered_engine();
  EnginePtr engine = with_cache(inner, options());
  engine->generate("q");
  engine->generate("q");
  ASSERT_TRUE(cache_counters(*engine).has_value());
  EXPECT_EQ(cache_counters(*engine)->hits, 1);
  EXPECT_FALSE(cache_counters(*inner).has_value());
}

// --- Modes ---

TEST_F(CacheTest, ReplayServesRecordedAnswersWithoutCalling) {
  cached(numbered_engine())->generate(full_request());
  auto inner = numbered_engine();
  auto replay = cached(inner, CacheMode::kReplay);
  Response hit = replay->generate(full_request());
  EXPECT_TRUE(hit.from_cache);
  EXPECT_EQ(inner->calls(), 0);
  EXPECT_EQ(replay->counters().hits, 1);
}

TEST_F(CacheTest, ReplayMissFailsOfflineWithoutCalling) {
  cached(numbered_engine())->generate("recorded");
  auto inner = numbered_engine();
  auto replay = cached(inner, CacheMode::kReplay);
  try {
    replay->generate("never recorded");
    FAIL() << "expected kOffline";
  } catch (const EngineError& error) {
    EXPECT_EQ(error.kind(), EngineErrorKind::kOffline);
    EXPECT_NE(std::string(error.what()).find("not cached"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("read_write"), std::string::npos) << error.what();
  }
  EXPECT_EQ(inner->calls(), 0);
  EXPECT_EQ(replay->counters().misses, 1);
}

TEST_F(CacheTest, ReplayWithoutAFileFailsOfflineAndCreatesNothing) {
  auto inner = numbered_engine();
  auto replay = cached(inner, CacheMode::kReplay);
  try {
    replay->generate("q");
    FAIL() << "expected kOffline";
  } catch (const EngineError& error) {
    EXPECT_EQ(error.kind(), EngineErrorKind::kOffline);
    EXPECT_NE(std::string(error.what()).find("does not exist"), std::string::npos);
  }
  EXPECT_EQ(inner->calls(), 0);
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_EQ(warnings().size(), 1u);
}

TEST_F(CacheTest, RefreshAlwaysCallsAndOverwrites) {
  auto inner = numbered_engine();
  EXPECT_EQ(cached(inner)->generate("q").text, "q #1");
  {
    auto refresh = cached(inner, CacheMode::kRefresh);
    Response a = refresh->generate("q");
    Response b = refresh->generate("q");
    EXPECT_EQ(a.text, "q #2");
    EXPECT_EQ(b.text, "q #3");
    EXPECT_FALSE(b.from_cache);
  }
  EXPECT_EQ(inner->calls(), 3);
  Response latest = cached(inner)->generate("q");
  EXPECT_TRUE(latest.from_cache);
  EXPECT_EQ(latest.text, "q #3");
  EXPECT_EQ(cache_stats(path_).entries, 1);
}

TEST_F(CacheTest, OffNeitherReadsNorWrites) {
  auto inner = numbered_engine();
  auto engine = cached(inner, CacheMode::kOff);
  EXPECT_FALSE(engine->generate("q").from_cache);
  EXPECT_FALSE(engine->generate("q").from_cache);
  EXPECT_EQ(inner->calls(), 2);
  EXPECT_EQ(engine->counters().bypasses, 2);
  EXPECT_FALSE(fs::exists(path_));
}

// --- Concurrency ---

TEST_F(CacheTest, IdenticalRequestsInFlightAreSentOnce) {
  auto inner = numbered_engine({.delay = 300ms});
  auto engine = cached(inner);
  std::vector<Response> responses(8);
  std::vector<std::thread> threads;
  for (auto& response : responses) {
    threads.emplace_back([&] { response = engine->generate(full_request()); });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(inner->calls(), 1);
  int paid = 0;
  for (const Response& response : responses) {
    EXPECT_EQ(response.text, responses[0].text);
    paid += response.from_cache ? 0 : 1;
  }
  EXPECT_EQ(paid, 1);
  CacheCounters counters = engine->counters();
  EXPECT_EQ(counters.misses, 1);
  EXPECT_EQ(counters.coalesced, 7);
}

TEST_F(CacheTest, AFailedFlightFailsEveryoneAndStoresNothing) {
  std::atomic<bool> fail{true};
  auto inner = std::make_shared<ScriptedEngine>(
      [&](const Request&) -> std::string {
        if (fail) throw EngineError(EngineErrorKind::kServer, "overloaded");
        return "fine";
      },
      ScriptedEngine::Options{.delay = 300ms});
  auto engine = cached(inner);
  std::atomic<int> server_errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      try {
        engine->generate("q");
      } catch (const EngineError& error) {
        if (error.kind() == EngineErrorKind::kServer) ++server_errors;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(inner->calls(), 1);
  EXPECT_EQ(server_errors, 8);
  engine->flush();
  EXPECT_EQ(cache_stats(path_).entries, 0);
  fail = false;
  EXPECT_EQ(engine->generate("q").text, "fine");
  EXPECT_EQ(inner->calls(), 2);
}

TEST_F(CacheTest, ErrorsAreNotCached) {
  int calls = 0;
  auto inner = std::make_shared<ScriptedEngine>([&](const Request&) -> std::string {
    if (++calls == 1) throw EngineError(EngineErrorKind::kRateLimited, "slow down");
    return "answer";
  });
  auto engine = cached(inner);
  EXPECT_THROW(engine->generate("q"), EngineError);
  EXPECT_EQ(engine->generate("q").text, "answer");
  EXPECT_TRUE(engine->generate("q").from_cache);
  EXPECT_EQ(inner->calls(), 2);
}

TEST_F(CacheTest, ManyThreadsCallEachDistinctRequestOnce) {
  auto inner = numbered_engine();
  auto engine = cached(inner);
  constexpr int kDistinct = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        Response r = engine->generate("prompt " + std::to_string((i * 7 + t) % kDistinct));
        if (r.text.rfind("prompt ", 0) != 0) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(inner->calls(), kDistinct);
  engine->flush();
  EXPECT_EQ(cache_stats(path_).entries, kDistinct);
}

TEST_F(CacheTest, AnswersArrivingAfterTheEngineIsGoneAreStillStored) {
  auto inner = numbered_engine({.delay = 100ms});
  std::promise<Outcome> promise;
  cached(inner)->submit(Request::Text("late"), [&](Outcome o) { promise.set_value(o); });
  ASSERT_TRUE(promise.get_future().get().ok());
  // The write happens when the last in-flight callback lets go of the cache; poll for it.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (cache_stats(path_).entries == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(cache_stats(path_).entries, 1);
}

// --- Persistence ---

TEST_F(CacheTest, PersistsAcrossEngineInstances) {
  std::string text = cached(numbered_engine())->generate(full_request()).text;
  auto inner = numbered_engine();
  Response hit = cached(inner)->generate(full_request());
  EXPECT_TRUE(hit.from_cache);
  EXPECT_EQ(hit.text, text);
  EXPECT_EQ(inner->calls(), 0);
}

std::string child_prompt(int child, int i) {
  // Half the prompts are shared between the children, half are their own.
  return i % 2 ? "shared " + std::to_string(i)
               : "child " + std::to_string(child) + " " + std::to_string(i);
}

TEST_F(CacheTest, TwoProcessesWriteConcurrentlyAndAThirdReadsEverything) {
  constexpr int kPrompts = 200;
  int start_gate[2];
  ASSERT_EQ(pipe(start_gate), 0);
  auto write_in_child = [&](int child) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    close(start_gate[1]);
    char go = 0;
    int status = read(start_gate[0], &go, 1) == 1 ? 0 : 3;  // start together
    {
      auto engine = cached(numbered_engine());
      for (int i = 0; i < kPrompts; ++i) {
        if (engine->generate(child_prompt(child, i)).text.empty()) status = 1;
      }
      if (!warnings().empty()) status = 2;
    }
    _exit(status);
  };
  pid_t first = write_in_child(1);
  pid_t second = write_in_child(2);
  close(start_gate[0]);
  ASSERT_EQ(write(start_gate[1], "go", 2), 2);
  close(start_gate[1]);
  for (pid_t pid : {first, second}) {
    int status = -1;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto inner = numbered_engine();
  auto replay = cached(inner, CacheMode::kReplay);
  for (int child : {1, 2}) {
    for (int i = 0; i < kPrompts; ++i) {
      EXPECT_TRUE(replay->generate(child_prompt(child, i)).from_cache) << child_prompt(child, i);
    }
  }
  EXPECT_EQ(inner->calls(), 0);
  EXPECT_EQ(cache_stats(path_).entries, kPrompts * 3 / 2);
}

TEST_F(CacheTest, StoresEveryField) {
  auto before = std::time(nullptr);
  Response answer = cached(numbered_engine({.name = "named-engine"}))->generate("q", "s");
  auto after = std::time(nullptr);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT key, text, finish_reason, model, input_tokens, "
                               "output_tokens, cached_input_tokens, created_at, engine "
                               "FROM responses",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  auto column = [&](int i) {
    return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)));
  };
  const EngineInfo info = numbered_engine({.name = "named-engine"})->info();
  EXPECT_EQ(column(0), cache_key(info, Request::Text("q", "s")));
  EXPECT_EQ(column(1), answer.text);
  EXPECT_EQ(column(2), answer.finish_reason);
  EXPECT_EQ(column(3), answer.model);
  EXPECT_EQ(sqlite3_column_int64(stmt, 4), answer.usage.input_tokens);
  EXPECT_EQ(sqlite3_column_int64(stmt, 5), answer.usage.output_tokens);
  EXPECT_EQ(sqlite3_column_int64(stmt, 6), answer.usage.cached_input_tokens);
  EXPECT_GE(sqlite3_column_int64(stmt, 7), before);
  EXPECT_LE(sqlite3_column_int64(stmt, 7), after);
  EXPECT_EQ(column(8), "named-engine");
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// --- Robustness ---

TEST_F(CacheTest, GarbageFileIsBypassedWithOneWarning) {
  const std::string garbage(8192, 'x');
  write_file(path_, garbage);
  auto inner = numbered_engine();
  auto engine = cached(inner);
  EXPECT_EQ(engine->generate("q").text, "q #1");
  EXPECT_EQ(engine->generate("q").text, "q #2");
  EXPECT_EQ(engine->counters().bypasses, 2);
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find(path_), std::string::npos) << warnings()[0];
  EXPECT_NE(warnings()[0].find("delete"), std::string::npos) << warnings()[0];
  // The user's file is left alone: deleting it is their call.
  std::ifstream in(path_, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), garbage);
  EXPECT_THROW(cache_stats(path_), Error);
}

TEST_F(CacheTest, TruncatedFileNeverFailsACall) {
  std::vector<std::string> prompts;
  {
    auto engine = cached(numbered_engine());
    for (int i = 0; i < 300; ++i) {
      prompts.push_back("prompt " + std::to_string(i) + std::string(1000, 'p'));
      engine->generate(prompts.back());
    }
  }
  ASSERT_FALSE(fs::exists(path_ + "-wal"));
  fs::resize_file(path_, fs::file_size(path_) / 3);

  auto inner = numbered_engine();
  auto engine = cached(inner);
  for (const std::string& prompt : prompts) {
    EXPECT_EQ(engine->generate(prompt).text.substr(0, prompt.size()), prompt);
  }
  EXPECT_GT(inner->calls(), 0);
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("delete"), std::string::npos) << warnings()[0];
}

TEST_F(CacheTest, WarningsGoToStderrByDefault) {
  write_file(path_, std::string(4096, 'x'));
  CacheOptions o;
  o.path = path_;
  testing::internal::CaptureStderr();
  {
    auto engine = cached(numbered_engine(), o);
    engine->generate("q");
    engine->generate("r");
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("textgrad: warning: response cache " + path_, 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST_F(CacheTest, FileFromANewerVersionIsLeftAlone) {
  cached(numbered_engine())->generate("q");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto inner = numbered_engine();
  EXPECT_FALSE(cached(inner)->generate("q").from_cache);
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("newer"), std::string::npos) << warnings()[0];
}

// The header and schema are intact, so opening works; the damage shows up in a lookup.
TEST_F(CacheTest, CorruptionFoundDuringLookupsTurnsTheCacheOff) {
  std::vector<std::string> prompts;
  {
    auto engine = cached(numbered_engine());
    for (int i = 0; i < 300; ++i) {
      prompts.push_back("prompt " + std::to_string(i) + std::string(1000, 'p'));
      engine->generate(prompts.back());
    }
  }
  {
    std::fstream file(path_, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(fs::file_size(path_) / 2));
    const std::string junk(64 * 1024, '\x55');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto inner = numbered_engine();
  auto engine = cached(inner);
  for (const std::string& prompt : prompts) {
    EXPECT_EQ(engine->generate(prompt).text.substr(0, prompt.size()), prompt);
  }
  EXPECT_GT(engine->counters().hits, 0);  // the first lookups worked
  EXPECT_GT(engine->counters().bypasses, 0);
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("malformed"), std::string::npos) << warnings()[0];
}

TEST_F(CacheTest, UnwritableLocationIsBypassedWithOneWarning) {
  write_file(dir_ + "/not-a-directory", "");
  CacheOptions o = options();
  o.path = dir_ + "/not-a-directory/sub/responses.sqlite3";
  auto inner = numbered_engine();
  auto engine = cached(inner, o);
  EXPECT_EQ(engine->generate("q").text, "q #1");
  EXPECT_EQ(engine->generate("q").text, "q #2");
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("writable"), std::string::npos) << warnings()[0];
}

TEST_F(CacheTest, CreatesMissingDirectories) {
  CacheOptions o = options();
  o.path = dir_ + "/a/b/c/responses.sqlite3";
  cached(numbered_engine(), o)->generate("q");
  EXPECT_EQ(cache_stats(o.path).entries, 1);
}

// Another process holding the write lock longer than busy_timeout: the answer is returned,
// not stored, and the problem reported once.
TEST_F(CacheTest, LockedDatabaseDelaysNothingAndIsReportedOnce) {
  CacheOptions o = options();
  o.busy_timeout = 400ms;
  auto inner = numbered_engine();
  auto engine = cached(inner, o);

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(engine->generate("a").text, "a #1");
  EXPECT_EQ(engine->generate("b").text, "b #2");
  // The writes wait for the lock on the cache's own thread, not in the caller's.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 200ms);
  engine->flush();
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_NE(warnings()[0].find("locked"), std::string::npos) << warnings()[0];
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  EXPECT_EQ(engine->generate("a").text, "a #3");  // was not stored, so asked again
  engine->flush();
  EXPECT_TRUE(engine->generate("a").from_cache);
  EXPECT_EQ(cache_stats(path_).entries, 1);
  EXPECT_EQ(warnings().size(), 1u);
}

TEST_F(CacheTest, DatabaseLockedAtOpenIsBypassed) {
  cached(numbered_engine())->generate("q");
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  CacheOptions o = options();
  o.busy_timeout = 100ms;
  auto inner = numbered_engine();
  auto engine = cached(inner, o);
  EXPECT_EQ(engine->generate("q").text, "q #1");
  EXPECT_EQ(inner->calls(), 1);
  EXPECT_EQ(warnings().size(), 1u);
  sqlite3_close(other);
}

// --- Maintenance ---

TEST_F(CacheTest, StatsAndClear) {
  {
    auto alpha = cached(numbered_engine({.name = "alpha"}));
    auto beta = cached(numbered_engine({.name = "beta"}));
    for (const char* q : {"1", "2", "3"}) alpha->generate(q);
    for (const char* q : {"1", "2"}) beta->generate(q);
  }
  CacheStats stats = cache_stats(path_);
  EXPECT_EQ(stats.entries, 5);
  EXPECT_GT(stats.bytes, 0);
  EXPECT_EQ(stats.entries_by_engine,
            (std::map<std::string, std::int64_t>{{"alpha", 3}, {"beta", 2}}));
  EXPECT_EQ(cache_clear(path_), 5u);
  EXPECT_EQ(cache_stats(path_).entries, 0);
  EXPECT_TRUE(cache_stats(path_).entries_by_engine.empty());

  auto inner = numbered_engine({.name = "alpha"});
  cached(inner)->generate("1");
  EXPECT_EQ(inner->calls(), 1);
  EXPECT_EQ(cache_stats(path_).entries, 1);
}

TEST_F(CacheTest, MaintenanceOfAMissingFileCreatesNothing) {
  EXPECT_EQ(cache_stats(path_).entries, 0);
  EXPECT_EQ(cache_stats(path_).bytes, 0);
  EXPECT_EQ(cache_clear(path_), 0u);
  EXPECT_FALSE(fs::exists(path_));
}

class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    if (const char* value = std::getenv(name)) saved_ = value;
  }
  ~ScopedEnv() {
    if (saved_) {
      setenv(name_, saved_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  void set(const char* value) { value ? setenv(name_, value, 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

TEST(CachePath, FollowsTheEnvironment) {
  ScopedEnv custom("TEXTGRAD_CACHE_DIR"), xdg("XDG_CACHE_HOME"), home("HOME");
  home.set("/home/someone");
  custom.set("/data/cache");
  xdg.set("/xdg");
  EXPECT_EQ(default_cache_path(), "/data/cache/responses.sqlite3");
  custom.set(nullptr);
  EXPECT_EQ(default_cache_path(), "/xdg/textgrad/responses.sqlite3");
  xdg.set("relative/path");  // ignored, as the XDG spec says
  EXPECT_EQ(default_cache_path(), "/home/someone/.cache/textgrad/responses.sqlite3");
  xdg.set("");
  EXPECT_EQ(default_cache_path(), "/home/someone/.cache/textgrad/responses.sqlite3");
}

}  // namespace
}  // namespace tg
