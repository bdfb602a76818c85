#include "worker_protocol.h"

#include <unistd.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <random>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "util/json_parse.h"

namespace tg::cli {
namespace {

using nlohmann::json;

int parse_count(std::string_view text, const std::string& name, const std::string& flag,
                int minimum) {
  int value = -1;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < minimum) {
    throw InvalidArgument(fmt::format("{}: {} must be a whole number of at least {}, not '{}'",
                                      flag, name, minimum, text));
  }
  return value;
}

std::string optional_text(const auto& value) {
  return value ? fmt::format("{}", *value) : std::string("-");
}

}  // namespace

WorkerQueueUrl parse_worker_queue_url(const std::string& url, const std::string& flag) {
  WorkerQueueUrl parsed;
  // wait_s and items are ours; the rest (lease_ms, prefix) is the Redis URL's.
  std::string redis_url = url;
  const size_t question = url.find('?');
  if (question != std::string::npos) {
    redis_url = url.substr(0, question);
    std::string rest;
    std::string_view query = std::string_view(url).substr(question + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view item = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      const size_t eq = item.find('=');
      const std::string_view name = item.substr(0, eq);
      const std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
      if (name == "wait_s") {
        parsed.wait = std::chrono::seconds(parse_count(value, "wait_s", flag, 0));
      } else if (name == "items") {
        parsed.items_per_job = parse_count(value, "items", flag, 1);
      } else {
        rest += (rest.empty() ? "?" : "&") + std::string(item);
      }
    }
    redis_url += rest;
  }
  try {
    parsed.redis = cache::parse_redis_url(redis_url);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(
        fmt::format("{}: {} (the queue also takes wait_s and items)", flag, e.what()));
  }
  if (parsed.redis.ttl_s) {
    throw InvalidArgument(flag + ": ttl_s is a cache setting, not a work queue's");
  }
  if (parsed.redis.lease_ms) {
    if (*parsed.redis.lease_ms < 100) throw InvalidArgument(flag + ": lease_ms must be >= 100");
    parsed.lease = std::chrono::milliseconds(*parsed.redis.lease_ms);
  }
  return parsed;
}

std::string queue_name(const EngineInfo& info) {
  const SamplingParams& s = info.default_sampling;
  return fmt::format("eval:{} t={} p={} max={} seed={}", info.name, optional_text(s.temperature),
                     optional_text(s.top_p), optional_text(s.max_tokens), optional_text(s.seed));
}

std::string unique_process_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device random;
  return fmt::format("{}-{}-{:08x}", host, getpid(), random());
}

std::shared_ptr<cache::RedisWorkQueue> open_work_queue(const WorkerQueueUrl& url,
                                                       const EngineInfo& info) {
  cache::RedisSettings settings;
  settings.url = url.redis;
  if (url.redis.prefix) settings.key_prefix = *url.redis.prefix;
  std::shared_ptr<cache::RedisStore> store;
  try {
    store = std::make_shared<cache::RedisStore>(settings);
  } catch (const cache::RedisFailure& e) {
    throw Error(fmt::format("cannot use the evaluation work queue at {}: {}", url.redis.display(),
                            e.what()));
  }
  return std::make_shared<cache::RedisWorkQueue>(std::move(store), queue_name(info),
                                                 cache::WorkQueueOptions{url.lease, {}});
}

std::string encode_job(const EvalJob& job) {
  json items = json::array();
  for (const Example& item : job.items) items.push_back({{"id", item.id}, {"input", item.input}});
  return json{{"prompt", job.prompt}, {"items", items}}.dump(-1, ' ', false,
                                                             json::error_handler_t::replace);
}

EvalJob decode_job(const std::string& payload) {
  const json doc = util::parse_json_or_discarded(payload);
  if (!doc.is_object() || !doc.contains("prompt") || !doc["prompt"].is_string() ||
      !doc.contains("items") || !doc["items"].is_array()) {
    throw Error("the work queue holds a job that is not an evaluation job");
  }
  EvalJob job;
  job.prompt = doc["prompt"];
  for (const json& item : doc["items"]) {
    Example example;
    example.id = item.value("id", "");
    example.input = item.value("input", "");
    job.items.push_back(std::move(example));
  }
  return job;
}

std::string encode_answers(const std::vector<Outcome>& answers) {
  json out = json::array();
  for (const Outcome& outcome : answers) {
    if (!outcome.ok()) {
      std::string message = "unknown error";
      try {
        std::rethrow_exception(outcome.error);
      } catch (const std::exception& e) {
        message = e.what();
      } catch (...) {
      }
      out.push_back({{"error", message}});
      continue;
    }
    const Response& r = outcome.response;
    out.push_back({{"text", r.text},
                   {"finish_reason", r.finish_reason},
                   {"model", r.model},
                   {"input_tokens", r.usage.input_tokens},
                   {"output_tokens", r.usage.output_tokens},
                   {"cached_tokens", r.usage.cached_input_tokens},
                   {"cache_hit", r.from_cache},
                   {"latency_ms", r.latency_ms}});
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<Outcome> decode_answers(const std::string& result, size_t items) {
  const json doc = util::parse_json_or_discarded(result);
  if (!doc.is_array() || doc.size() != items) {
    throw Error(fmt::format("an evaluation worker sent a result that is not {} answers", items));
  }
  std::vector<Outcome> answers;
  for (const json& item : doc) {
    Outcome outcome;
    if (item.contains("error")) {
      outcome.error = std::make_exception_ptr(
          Error("evaluation worker: " + item.value("error", std::string("unknown error"))));
    } else {
      Response& r = outcome.response;
      r.text = item.value("text", "");
      r.finish_reason = item.value("finish_reason", "");
      r.model = item.value("model", "");
      r.usage = {item.value("input_tokens", std::int64_t{0}),
                 item.value("output_tokens", std::int64_t{0}),
                 item.value("cached_tokens", std::int64_t{0})};
      r.from_cache = item.value("cache_hit", false);
      r.latency_ms = item.value("latency_ms", 0.0);
    }
    answers.push_back(std::move(outcome));
  }
  return answers;
}

}  // namespace tg::cli
