// optimizer.h, gate.h, gated_optimizer.h: TGD with the reference's keyword arguments, REVOLVE,
// and gated acceptance. Every optimizer is an `Optimizer`, so a gate can wrap any of them.
#include "common.h"
#include "textgrad/errors.h"
#include "textgrad/gate.h"
#include "textgrad/gated_optimizer.h"
#include "textgrad/optimizer.h"

namespace tgpy {
namespace {

const char* status_name(tg::UpdateOutcome::Status status) {
  switch (status) {
    case tg::UpdateOutcome::Status::kUpdated:
      return "updated";
    case tg::UpdateOutcome::Status::kKept:
      return "kept";
    case tg::UpdateOutcome::Status::kSkipped:
      return "skipped";
    case tg::UpdateOutcome::Status::kFailed:
      return "failed";
  }
  return "unknown";
}

// The reference's verbose flag: one printed line per parameter after each step.
template <typename Base>
class Verbose : public Base {
 public:
  template <typename Options>
  Verbose(std::vector<tg::Variable> parameters, tg::EnginePtr engine, Options options, int verbose)
      : Base(std::move(parameters), std::move(engine), std::move(options)), verbose_(verbose) {}
  int verbose() const { return verbose_; }

 private:
  int verbose_;
};

template <typename Base>
void print_outcomes(const tg::Optimizer& optimizer, const tg::StepReport& report) {
  const auto* verbose = dynamic_cast<const Verbose<Base>*>(&optimizer);
  if (verbose == nullptr || verbose->verbose() == 0) return;
  for (const tg::UpdateOutcome& o : report.outcomes) {
    py::print("TextualGradientDescent:", status_name(o.status), o.parameter.role_description(),
              "->", o.new_value);
  }
}

tg::StepReport step(tg::Optimizer& optimizer) {
  tg::StepReport report;
  {
    py::gil_scoped_release release;
    report = optimizer.step();
  }
  print_outcomes<tg::TextualGradientDescent>(optimizer, report);
  print_outcomes<tg::Revolve>(optimizer, report);
  return report;
}

// The TGD keyword arguments shared by TGD and REVOLVE.
tg::TGDOptions tgd_options(std::optional<std::vector<std::string>> constraints,
                           std::optional<std::vector<std::string>> tags,
                           std::optional<std::string> optimizer_system_prompt,
                           std::optional<std::vector<std::string>> examples, int gradient_memory,
                           int momentum, int concurrency, std::shared_ptr<tg::Prompts> prompts) {
  tg::TGDOptions options;
  if (constraints) options.constraints = std::move(*constraints);
  if (tags) {
    if (tags->size() != 2)
      throw tg::InvalidArgument("new_variable_tags needs [start_tag, end_tag]");
    options.start_tag = (*tags)[0];
    options.end_tag = (*tags)[1];
  }
  if (examples) options.in_context_examples = std::move(*examples);
  options.gradient_memory = gradient_memory;
  options.momentum = momentum;
  options.concurrency = concurrency;
  if (optimizer_system_prompt) {
    auto custom = std::make_shared<tg::Prompts>(prompts ? *prompts : tg::Prompts());
    custom->set("optimizer_system", *optimizer_system_prompt);
    prompts = custom;
  }
  options.prompts = std::move(prompts);
  return options;
}

tg::HistoryOptions history_options(const std::string& history, int last_k, int budget_tokens,
                                   bool in_feedback) {
  tg::HistoryOptions options;
  if (history == "all") {
    options.mode = tg::HistoryOptions::Mode::kAll;
  } else if (history == "last-k") {
    options.mode = tg::HistoryOptions::Mode::kLastK;
  } else if (history == "none") {
    options.mode = tg::HistoryOptions::Mode::kNone;
  } else {
    throw tg::InvalidArgument("history must be 'all', 'last-k' or 'none', not '" + history + "'");
  }
  options.last_k = last_k;
  options.budget_tokens = budget_tokens;
  options.in_feedback = in_feedback;
  return options;
}

// A Python scorer for the gate, called on step()'s thread with the GIL taken.
tg::GateScorer python_scorer(py::object function) {
  return [fn = PyRef(std::move(function))] {
    py::gil_scoped_acquire gil;
    try {
      return fn.get()().cast<std::vector<double>>();
    } catch (py::error_already_set& error) {
      throw tg::Error("the gate's scorer raised " + describe_python_error(error));
    } catch (const py::cast_error&) {
      throw tg::InvalidArgument("the gate's scorer must return a list of numbers");
    }
  };
}

py::dict gate_dict(const tg::GateDecision& d) {
  py::dict out;
  out["accepted"] = d.accepted;
  out["gate"] = tg::to_string(d.kind);
  out["reason"] = d.reason;
  out["old_mean"] = d.old_mean;
  out["new_mean"] = d.new_mean;
  out["items"] = d.items;
  out["wins"] = d.wins;
  out["losses"] = d.losses;
  out["ties"] = d.ties;
  out["p_value"] = d.p_value ? py::cast(*d.p_value) : py::none();
  return out;
}

void bind_reports(py::module_& m) {
  py::class_<tg::UpdateOutcome>(m, "UpdateOutcome", "What step() did to one parameter.")
      .def_readonly("parameter", &tg::UpdateOutcome::parameter)
      .def_property_readonly(
          "status", [](const tg::UpdateOutcome& o) { return status_name(o.status); },
          "'updated', 'kept' (no usable answer), 'skipped' (no feedback) "
          "or 'failed' (engine error).")
      .def_readonly("reason", &tg::UpdateOutcome::reason)
      .def_readonly("old_value", &tg::UpdateOutcome::old_value)
      .def_readonly("new_value", &tg::UpdateOutcome::new_value)
      .def_readonly("calls", &tg::UpdateOutcome::calls);

  py::class_<tg::StepReport>(m, "StepReport")
      .def_readonly("optimizer", &tg::StepReport::optimizer)
      .def_readonly("outcomes", &tg::StepReport::outcomes)
      .def_property_readonly(
          "gate",
          [](const tg::StepReport& r) -> py::object {
            return r.gate ? py::object(gate_dict(*r.gate)) : py::none();
          },
          "A gated optimizer's decision (dict: accepted, gate, reason, old_mean, new_mean, "
          "items, wins, losses, ties, p_value), else None.")
      .def("updated", &tg::StepReport::updated);
}

}  // namespace

void bind_optimizers(py::module_& m) {
  bind_reports(m);

  py::class_<tg::Optimizer, std::shared_ptr<tg::Optimizer>>(
      m, "Optimizer",
      "The interface of every optimizer. step() runs with the GIL released; state() and "
      "load_state() save and restore everything it remembers between steps (not the values).")
      .def_property_readonly("name", &tg::Optimizer::name)
      .def_property_readonly("parameters", &tg::Optimizer::parameters)
      .def("step", &step)
      .def("zero_grad", &tg::Optimizer::zero_grad)
      .def("state", &tg::Optimizer::state)
      .def("load_state", &tg::Optimizer::load_state, py::arg("state"));

  using PyTGD = Verbose<tg::TextualGradientDescent>;
  py::class_<tg::TextualGradientDescent, tg::Optimizer,
             std::shared_ptr<tg::TextualGradientDescent>>(
      m, "TextualGradientDescent",
      "Textual Gradient Descent: rewrites each parameter from the feedback it received. "
      "step() updates the parameters concurrently with the GIL released and returns a "
      "StepReport. engine=None uses set_backward_engine()'s engine.")
      .def(py::init([](std::vector<tg::Variable> parameters, int verbose, const py::object& engine,
                       std::optional<std::vector<std::string>> constraints,
                       std::optional<std::vector<std::string>> tags,
                       std::optional<std::string> optimizer_system_prompt,
                       std::optional<std::vector<std::string>> examples, int gradient_memory,
                       int momentum, int concurrency, std::shared_ptr<tg::Prompts> prompts) {
             return std::shared_ptr<tg::TextualGradientDescent>(std::make_shared<PyTGD>(
                 std::move(parameters), engine_arg(engine),
                 tgd_options(std::move(constraints), std::move(tags),
                             std::move(optimizer_system_prompt), std::move(examples),
                             gradient_memory, momentum, concurrency, std::move(prompts)),
                 verbose));
           }),
           py::arg("parameters"), py::arg("verbose") = 0, py::arg("engine") = py::none(),
           py::arg("constraints") = py::none(), py::arg("new_variable_tags") = py::none(),
           py::arg("optimizer_system_prompt") = py::none(),
           py::arg("in_context_examples") = py::none(), py::arg("gradient_memory") = 0,
           py::arg("momentum") = 0, py::arg("concurrency") = 8, py::arg("prompts") = nullptr)
      .def("update_request", &tg::TextualGradientDescent::update_request, py::arg("parameter"),
           "The request step() would send for `parameter` now.");
  m.attr("TGD") = m.attr("TextualGradientDescent");

  using PyRevolve = Verbose<tg::Revolve>;
  py::class_<tg::Revolve, tg::TextualGradientDescent, std::shared_ptr<tg::Revolve>>(
      m, "Revolve",
      "REVOLVE: TGD whose update request shows each parameter's values so far, so that "
      "edits that change nothing grow bolder. history: 'all', 'last-k' (the last `last_k` "
      "values) or 'none'; the history section is kept within history_budget_tokens. With "
      "history_in_feedback=True, pass this optimizer to backward(past_values_from=...) so the "
      "feedback requests show the history too.")
      .def(py::init([](std::vector<tg::Variable> parameters, int verbose, const py::object& engine,
                       std::optional<std::vector<std::string>> constraints,
                       std::optional<std::vector<std::string>> tags,
                       std::optional<std::string> optimizer_system_prompt,
                       std::optional<std::vector<std::string>> examples, int gradient_memory,
                       int momentum, int concurrency, std::shared_ptr<tg::Prompts> prompts,
                       const std::string& history, int last_k, int history_budget_tokens,
                       bool history_in_feedback) {
             tg::RevolveOptions options;
             options.tgd = tgd_options(std::move(constraints), std::move(tags),
                                       std::move(optimizer_system_prompt), std::move(examples),
                                       gradient_memory, momentum, concurrency, std::move(prompts));
             options.history =
                 history_options(history, last_k, history_budget_tokens, history_in_feedback);
             return std::shared_ptr<tg::Revolve>(std::make_shared<PyRevolve>(
                 std::move(parameters), engine_arg(engine), std::move(options), verbose));
           }),
           py::arg("parameters"), py::arg("verbose") = 0, py::arg("engine") = py::none(),
           py::arg("constraints") = py::none(), py::arg("new_variable_tags") = py::none(),
           py::arg("optimizer_system_prompt") = py::none(),
           py::arg("in_context_examples") = py::none(), py::arg("gradient_memory") = 0,
           py::arg("momentum") = 0, py::arg("concurrency") = 8, py::arg("prompts") = nullptr,
           py::arg("history") = "all", py::arg("last_k") = 3,
           py::arg("history_budget_tokens") = 2000, py::arg("history_in_feedback") = false);

  py::class_<tg::GatedOptimizer, tg::Optimizer, std::shared_ptr<tg::GatedOptimizer>>(
      m, "GatedOptimizer",
      "Wraps an optimizer: after each step the new values are scored by scorer() (a callable "
      "returning one number per gate item, higher is better, same items every time; called on "
      "step()'s thread) and kept only if the gate accepts: 'revert' (unless worse), 'strict' "
      "(only if better), 'significant' (one-sided exact sign test at alpha) or 'none'. A "
      "rejected step restores the old values and the wrapped optimizer's state. keep_best=True "
      "remembers the best values; restore_best() puts them back.")
      .def(py::init([](std::shared_ptr<tg::Optimizer> optimizer, py::object scorer,
                       const std::string& gate, double alpha, bool keep_best) {
             tg::GatedOptions options;
             options.gate.kind = tg::parse_gate(gate);
             options.gate.alpha = alpha;
             options.keep_best = keep_best;
             tg::validate(options.gate);
             return std::make_shared<tg::GatedOptimizer>(std::move(optimizer),
                                                         python_scorer(std::move(scorer)), options);
           }),
           py::arg("optimizer"), py::arg("scorer"), py::arg("gate") = "revert",
           py::arg("alpha") = 0.05, py::arg("keep_best") = false)
      .def_property_readonly("current_scores", &tg::GatedOptimizer::current_scores)
      .def("set_current_scores", &tg::GatedOptimizer::set_current_scores, py::arg("scores"),
           "Scores of the starting values, if already known: saves the first evaluation.")
      .def_property_readonly("best_values", &tg::GatedOptimizer::best_values)
      .def_property_readonly("best_score", &tg::GatedOptimizer::best_score)
      .def("restore_best", &tg::GatedOptimizer::restore_best);

  m.def(
      "gate_decision",
      [](const std::vector<double>& old_scores, const std::vector<double>& new_scores,
         const std::string& gate, double alpha) {
        tg::GateOptions options{tg::parse_gate(gate), alpha};
        tg::validate(options);
        return gate_dict(tg::decide(options, old_scores, new_scores));
      },
      py::arg("old_scores"), py::arg("new_scores"), py::arg("gate") = "revert",
      py::arg("alpha") = 0.05,
      "What a gate decides on paired per-item scores (a dict, as StepReport.gate).");
}

}  // namespace tgpy
