// engines.h, cache.h and limits.h: engines by name with their options, and the decorators.
#include "textgrad/engines.h"
#include "common.h"
#include "textgrad/cache.h"
#include "textgrad/errors.h"
#include "textgrad/limits.h"

namespace tgpy {
namespace {

// tg::http::Transport is opaque (incomplete) in the public API; Python holds it in this box.
struct TransportBox {
  std::shared_ptr<tg::http::Transport> transport;
};

py::dict usage_dict(const tg::Usage& usage) {
  py::dict out;
  out["input_tokens"] = usage.input_tokens;
  out["output_tokens"] = usage.output_tokens;
  out["cached_input_tokens"] = usage.cached_input_tokens;
  return out;
}

py::object stats_dict(const tg::Engine& engine) {
  std::optional<tg::EngineStats> stats = tg::engine_stats(engine);
  if (!stats) return py::none();
  py::dict out;
  out["requests"] = stats->requests;
  out["succeeded"] = stats->succeeded;
  out["failed"] = stats->failed;
  out["http_attempts"] = stats->http_attempts;
  out["retries"] = stats->retries;
  out["usage"] = usage_dict(stats->usage);
  py::dict by_model, by_phase;
  for (const auto& [model, usage] : stats->usage_by_model)
    by_model[py::str(model)] = usage_dict(usage);
  for (const auto& [phase, usage] : stats->usage_by_phase)
    by_phase[tg::to_string(phase)] = usage_dict(usage);
  out["usage_by_model"] = by_model;
  out["usage_by_phase"] = by_phase;
  return out;
}

py::object counters_dict(const tg::Engine& engine) {
  std::optional<tg::CacheCounters> counters = tg::cache_counters(engine);
  if (!counters) return py::none();
  py::dict out;
  out["hits"] = counters->hits;
  out["misses"] = counters->misses;
  out["coalesced"] = counters->coalesced;
  out["bypasses"] = counters->bypasses;
  out["stored"] = counters->stored;
  out["saved"] = usage_dict(counters->saved);
  return out;
}

tg::CacheMode cache_mode(const std::string& name) {
  if (name == "read_write") return tg::CacheMode::kReadWrite;
  if (name == "replay") return tg::CacheMode::kReplay;
  if (name == "refresh") return tg::CacheMode::kRefresh;
  if (name == "off") return tg::CacheMode::kOff;
  throw tg::InvalidArgument("unknown cache mode '" + name +
                            "'; use read_write, replay, refresh or off");
}

}  // namespace

void bind_engines(py::module_& m) {
  py::class_<TransportBox>(m, "Transport",
                           "One I/O thread and connection pool to share between engines "
                           "(EngineOptions.transport / get_engine(transport=...)).");
  m.def(
      "make_transport",
      [](long max_connections) { return TransportBox{tg::make_transport(max_connections)}; },
      py::arg("max_connections_per_host") = 512, py::call_guard<py::gil_scoped_release>());

  py::class_<tg::EngineOptions>(m, "EngineOptions",
                                "Options of an HTTP engine. An empty api_key / base_url means "
                                "the provider's environment variable (OPENAI_API_KEY, "
                                "OPENAI_BASE_URL, ...). The key is never logged.")
      .def(py::init<>())
      .def_readwrite("api_key", &tg::EngineOptions::api_key)
      .def_readwrite("base_url", &tg::EngineOptions::base_url)
      .def_readwrite("timeout_s", &tg::EngineOptions::timeout_s)
      .def_readwrite("connect_timeout_s", &tg::EngineOptions::connect_timeout_s)
      .def_readwrite("max_retries", &tg::EngineOptions::max_retries)
      .def_readwrite("retry_initial_delay_s", &tg::EngineOptions::retry_initial_delay_s)
      .def_readwrite("retry_max_delay_s", &tg::EngineOptions::retry_max_delay_s)
      .def_readwrite("max_retry_after_s", &tg::EngineOptions::max_retry_after_s)
      .def_readwrite("sampling", &tg::EngineOptions::sampling)
      .def_readwrite("extra_headers", &tg::EngineOptions::extra_headers)
      .def_readwrite("accepts_images", &tg::EngineOptions::accepts_images)
      .def_readwrite("use_max_completion_tokens", &tg::EngineOptions::use_max_completion_tokens)
      .def_readwrite("azure_api_version", &tg::EngineOptions::azure_api_version)
      .def_property(
          "transport",
          [](const tg::EngineOptions& o) -> py::object {
            return o.transport ? py::cast(TransportBox{o.transport}) : py::none();
          },
          [](tg::EngineOptions& o, const TransportBox* box) {
            o.transport = box ? box->transport : nullptr;
          })
      .def("__repr__", [](const tg::EngineOptions& o) {
        return "<EngineOptions base_url='" + o.base_url +
               "' api_key=" + (o.api_key.empty() ? "(from environment)" : "(set)") + ">";
      });

  m.def(
      "make_engine",
      [](const std::string& name, const tg::EngineOptions& options) {
        return tg::make_engine(name, options);
      },
      py::arg("name"), py::arg("options") = tg::EngineOptions(),
      py::call_guard<py::gil_scoped_release>(),
      "An HTTP engine by name: 'provider/model' or a reference name such as 'gpt-4o'.");
  m.def(
      "engine_stats", [](const tg::EnginePtr& e) { return stats_dict(*e); }, py::arg("engine"),
      "Requests, retries and usage of an engine made by make_engine, as a dict; None for "
      "other engines.");

  m.def(
      "with_limits",
      [](const py::object& engine, int max_in_flight, double rpm, double tpm) {
        tg::EnginePtr inner = engine_arg(engine);
        return tg::with_limits(inner, {max_in_flight, rpm, tpm});
      },
      py::arg("engine"), py::arg("max_in_flight") = 0, py::arg("requests_per_minute") = 0.0,
      py::arg("tokens_per_minute") = 0.0,
      "Wraps an engine so calls over a limit wait in a queue (0 = unlimited).");

  m.def(
      "with_cache",
      [](const py::object& engine, const std::string& path, const std::string& mode) {
        tg::EnginePtr inner = engine_arg(engine);
        tg::CacheOptions options;
        options.path = path;
        options.mode = cache_mode(mode);
        py::gil_scoped_release release;
        return tg::with_cache(inner, options);
      },
      py::arg("engine"), py::arg("path") = "", py::arg("mode") = "read_write",
      "Wraps an engine with the SQLite response cache. mode: read_write, replay, refresh, "
      "off. An empty path means default_cache_path().");
  m.def(
      "cache_counters", [](const tg::EnginePtr& e) { return counters_dict(*e); }, py::arg("engine"),
      "Hits, misses, ... of a cached engine as a dict; None otherwise.");
  m.def("default_cache_path", &tg::default_cache_path);
}

}  // namespace tgpy
