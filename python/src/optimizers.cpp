// optimizer.h: Textual Gradient Descent with the reference's keyword arguments. New optimizers
// (issue 11: REVOLVE, semantic backpropagation, gates) get a file like this one and one line in
// module.cpp.
#include <iostream>

#include "common.h"
#include "textgrad/errors.h"
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

// TGD plus the reference's verbose flag.
class PyTGD {
 public:
  PyTGD(std::vector<tg::Variable> parameters, tg::EnginePtr engine, tg::TGDOptions options,
        int verbose)
      : tgd_(std::move(parameters), std::move(engine), std::move(options)), verbose_(verbose) {}

  tg::StepReport step() {
    tg::StepReport report;
    {
      py::gil_scoped_release release;
      report = tgd_.step();
    }
    if (verbose_) {
      for (const tg::UpdateOutcome& o : report.outcomes) {
        py::print("TextualGradientDescent:", status_name(o.status), o.parameter.role_description(),
                  "->", o.new_value);
      }
    }
    return report;
  }
  tg::TextualGradientDescent& tgd() { return tgd_; }

 private:
  tg::TextualGradientDescent tgd_;
  int verbose_;
};

}  // namespace

void bind_optimizers(py::module_& m) {
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
      .def_readonly("outcomes", &tg::StepReport::outcomes)
      .def("updated", &tg::StepReport::updated);

  py::class_<PyTGD>(
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
             tg::TGDOptions options;
             if (constraints) options.constraints = std::move(*constraints);
             if (tags) {
               if (tags->size() != 2) {
                 throw tg::InvalidArgument("new_variable_tags needs [start_tag, end_tag]");
               }
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
             return std::make_unique<PyTGD>(std::move(parameters), engine_arg(engine),
                                            std::move(options), verbose);
           }),
           py::arg("parameters"), py::arg("verbose") = 0, py::arg("engine") = py::none(),
           py::arg("constraints") = py::none(), py::arg("new_variable_tags") = py::none(),
           py::arg("optimizer_system_prompt") = py::none(),
           py::arg("in_context_examples") = py::none(), py::arg("gradient_memory") = 0,
           py::arg("momentum") = 0, py::arg("concurrency") = 8, py::arg("prompts") = nullptr)
      .def("step", &PyTGD::step)
      .def("zero_grad", [](PyTGD& o) { o.tgd().zero_grad(); })
      .def_property_readonly("parameters", [](PyTGD& o) { return o.tgd().parameters(); })
      .def(
          "update_request",
          [](PyTGD& o, const tg::Variable& p) { return o.tgd().update_request(p); },
          py::arg("parameter"), "The request step() would send for `parameter` now.");

  m.attr("TGD") = m.attr("TextualGradientDescent");
}

}  // namespace tgpy
