// usage.h: the ledger (tokens and dollars per call, phase and model), prices and budgets.
#include "textgrad/usage.h"
#include "common.h"

namespace tgpy {
namespace {

py::dict totals_dict(const tg::Totals& t) {
  py::dict out;
  out["calls"] = t.calls;
  out["cache_hits"] = t.cache_hits;
  out["errors"] = t.errors;
  out["unpriced_calls"] = t.unpriced_calls;
  out["input_tokens"] = t.usage.input_tokens;
  out["output_tokens"] = t.usage.output_tokens;
  out["cached_input_tokens"] = t.usage.cached_input_tokens;
  out["cost_usd"] = t.cost_usd;
  out["latency_ms"] = t.latency_ms;
  return out;
}

}  // namespace

void bind_usage(py::module_& m) {
  py::class_<tg::Usage>(m, "Usage")
      .def(py::init<>())
      .def_readwrite("input_tokens", &tg::Usage::input_tokens)
      .def_readwrite("output_tokens", &tg::Usage::output_tokens)
      .def_readwrite("cached_input_tokens", &tg::Usage::cached_input_tokens);

  py::class_<tg::PriceTable>(m, "PriceTable", "Dollars per million tokens, by model prefix.")
      .def(py::init<>())
      .def_static("builtin", &tg::PriceTable::builtin, py::arg("data_dir") = "",
                  "data/prices.json from the data directory.")
      .def_static("load", &tg::PriceTable::load, py::arg("path"))
      .def("merge", &tg::PriceTable::merge, py::arg("overrides"))
      .def("__len__", &tg::PriceTable::size);

  py::class_<tg::Ledger, std::shared_ptr<tg::Ledger>>(
      m, "Ledger",
      "Usage and cost of every call through engines wrapped with with_ledger(); thread-safe. "
      "Totals are dicts: calls, cache_hits, errors, unpriced_calls, input_tokens, "
      "output_tokens, cached_input_tokens, cost_usd, latency_ms.")
      .def(py::init<tg::PriceTable>(), py::arg("prices") = tg::PriceTable())
      .def("total", [](const tg::Ledger& l) { return totals_dict(l.total()); })
      .def("by_phase",
           [](const tg::Ledger& l) {
             py::dict out;
             for (const auto& [phase, t] : l.by_phase()) out[tg::to_string(phase)] = totals_dict(t);
             return out;
           })
      .def("by_model",
           [](const tg::Ledger& l) {
             py::dict out;
             for (const auto& [model, t] : l.by_model()) out[py::str(model)] = totals_dict(t);
             return out;
           })
      .def(
          "set_budget",
          [](tg::Ledger& l, std::optional<std::int64_t> max_tokens, std::optional<double> max_usd) {
            l.set_budget({max_tokens, max_usd});
          },
          py::arg("max_tokens") = py::none(), py::arg("max_usd") = py::none())
      .def("over_budget", &tg::Ledger::over_budget)
      .def("check_budget", &tg::Ledger::check_budget,
           "Raises BudgetExceeded once a budget is used up; call it between steps.");

  m.def(
      "with_ledger",
      [](const py::object& engine, std::shared_ptr<tg::Ledger> ledger) {
        return tg::with_ledger(engine_arg(engine), std::move(ledger));
      },
      py::arg("engine"), py::arg("ledger"),
      "Wraps an engine so every answer and error is recorded in the ledger.");
}

}  // namespace tgpy
