// variable.h and graph.h: Variable with the reference's names, feedback, backward, DOT export.
#include "common.h"
#include "textgrad/errors.h"
#include "textgrad/functions.h"
#include "textgrad/graph.h"
#include "textgrad/optimizer.h"
#include "textgrad/prompts.h"

namespace tgpy {
namespace {

std::string type_name(const py::handle& value) {
  return py::str(py::type::of(value).attr("__name__"));
}

tg::Variable make_variable(const py::object& value, const std::string& image_path,
                           const py::object& predecessors, bool requires_grad,
                           const py::object& role_description) {
  if (role_description.is_none()) {
    throw tg::InvalidArgument(
        "Variable needs role_description=...: it tells the feedback and update engines what "
        "the text is, e.g. role_description=\"answer to the math question\"");
  }
  const std::string role = role_description.cast<std::string>();
  if (!predecessors.is_none() && py::len(predecessors) > 0) {
    throw tg::InvalidArgument(
        "Variable(predecessors=...) is not supported: Variables get their predecessors from "
        "the functions that compute them (LLMCall, sum, ...)");
  }
  if (!image_path.empty()) {
    if (!value.is_none() &&
        !(py::isinstance<py::str>(value) && value.cast<std::string>().empty())) {
      throw tg::InvalidArgument("give either a value or an image_path, not both");
    }
    py::gil_scoped_release release;
    return tg::Variable::image_file(image_path, role);
  }
  if (py::isinstance<py::bytes>(value)) {
    if (requires_grad) {
      throw tg::InvalidArgument(
          "an image Variable cannot require feedback: pass "
          "requires_grad=False with image bytes");
    }
    return tg::Variable::image(value.cast<std::string>(), role);
  }
  if (py::isinstance<py::bool_>(value) || py::isinstance<py::float_>(value)) {
    throw tg::InvalidArgument("a " + type_name(value) +
                              " value is ambiguous as text: convert it to a str yourself");
  }
  if (py::isinstance<py::int_>(value))
    return tg::Variable(value.cast<long long>(), role, requires_grad);
  if (value.is_none()) return tg::Variable(std::string(), role, requires_grad);
  if (!py::isinstance<py::str>(value)) {
    throw tg::InvalidArgument("a Variable's value must be a str, an int or image bytes, not " +
                              type_name(value));
  }
  return tg::Variable(value.cast<std::string>(), role, requires_grad);
}

std::string value_of(const tg::Variable& v) {
  py::gil_scoped_release release;
  return v.value();
}

void backward(const tg::Variable& v, const py::object& engine, int concurrency,
              std::shared_ptr<tg::Prompts> prompts, const std::string& mode,
              std::shared_ptr<tg::Revolve> past_values_from) {
  tg::EnginePtr resolved = engine_arg(engine);
  tg::BackwardOptions options{.concurrency = concurrency, .prompts = std::move(prompts)};
  options.mode = backward_mode_arg(mode);
  if (past_values_from) options.past_values = past_values_from->feedback_history();
  py::gil_scoped_release release;
  v.backward(resolved, options);
}

std::string repr(const tg::Variable& v) {
  if (!v.defined()) return "Variable(<empty>)";
  std::string value = v.ready() ? (v.is_image() ? "<image>" : v.short_value(10)) : "<pending>";
  return "Variable(value=" + value + ", role=" + v.role_description() +
         ", grads=" + std::to_string(v.gradients().size()) + ")";
}

}  // namespace

void bind_variable(py::module_& m) {
  py::class_<tg::GradientContext>(m, "GradientContext",
                                  "The conversation a piece of feedback was produced in.")
      .def_readonly("conversation", &tg::GradientContext::conversation)
      .def_readonly("response_role", &tg::GradientContext::response_role)
      .def_readonly("variable_role", &tg::GradientContext::variable_role);

  py::class_<tg::Gradient>(m, "Gradient", "One piece of feedback on a Variable.")
      .def_readonly("value", &tg::Gradient::text, "The feedback text.")
      .def_readonly("text", &tg::Gradient::text)
      .def_readonly("role_description", &tg::Gradient::role)
      .def_readonly("contexts", &tg::Gradient::contexts)
      .def("get_value", [](const tg::Gradient& g) { return g.text; })
      .def("__repr__", [](const tg::Gradient& g) { return "Gradient(" + g.text + ")"; })
      .def("__str__", [](const tg::Gradient& g) { return g.text; });

  py::class_<tg::Variable>(
      m, "Variable",
      "A text (or image) value in a computation graph. Copies share one node, like tensors.\n\n"
      "Variable(value, role_description=..., requires_grad=True): value is a str, an int "
      "(decimal text) or image bytes (with requires_grad=False); image_path=... loads an "
      "image file. A value produced by an LLM call may still be pending: reading .value waits "
      "for it with the GIL released.")
      .def(py::init(&make_variable), py::arg("value") = py::str(""), py::arg("image_path") = "",
           py::arg("predecessors") = py::none(), py::arg("requires_grad") = true, py::kw_only(),
           py::arg("role_description") = py::none())
      .def_property(
          "value", &value_of,
          [](tg::Variable& v, std::string value) { v.set_value(std::move(value)); },
          "The text value; waits while it is pending and raises the producing call's error.")
      .def("get_value", &value_of)
      .def("set_value", &tg::Variable::set_value, py::arg("value"))
      .def_property_readonly("id", &tg::Variable::id)
      .def("ready", &tg::Variable::ready)
      .def("wait", &tg::Variable::wait, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("is_image", &tg::Variable::is_image)
      .def_property_readonly("image_bytes",
                             [](const tg::Variable& v) { return py::bytes(v.image_part().data); })
      .def_property("role_description", &tg::Variable::role_description,
                    &tg::Variable::set_role_description)
      .def("get_role_description", &tg::Variable::role_description)
      .def("set_role_description", &tg::Variable::set_role_description, py::arg("role_description"))
      .def_property("requires_grad", &tg::Variable::requires_grad, &tg::Variable::set_requires_grad)
      .def_property_readonly("predecessors", &tg::Variable::predecessors)
      .def_property_readonly("gradients", &tg::Variable::gradients,
                             "The feedback received, in graph order.")
      .def("get_gradient_text", &tg::Variable::gradient_text,
           "The feedback texts joined by newlines.")
      .def("add_gradient", &tg::Variable::add_gradient, py::arg("feedback"))
      .def("reset_gradients", &tg::Variable::zero_grad)
      .def("zero_grad", &tg::Variable::zero_grad)
      .def("get_short_value", &tg::Variable::short_value, py::arg("n_words_offset") = 10,
           py::call_guard<py::gil_scoped_release>())
      .def("backward", &backward, py::arg("engine") = py::none(), py::arg("concurrency") = 8,
           py::arg("prompts") = nullptr, py::arg("mode") = "per-edge",
           py::arg("past_values_from") = nullptr,
           "Runs backward from this Variable; every Variable it depends on that requires grad "
           "receives feedback. engine=None uses set_backward_engine()'s engine. mode: "
           "'per-edge' (TextGrad: one feedback call per input) or 'semantic' (semantic "
           "backpropagation: one call per node answers for all its inputs; also 'joint'). "
           "past_values_from: a Revolve built with history_in_feedback=True, whose history the "
           "feedback requests then show. The GIL is released while the feedback calls run. "
           "Raises BackwardError naming the failing node.")
      .def(
          "generate_graph",
          [](const tg::Variable& v, int max_value_chars, bool show_gradients) {
            return tg::to_dot(v, {max_value_chars, show_gradients});
          },
          py::arg("max_value_chars") = 300, py::arg("show_gradients") = true,
          "The computation graph up to this Variable as Graphviz DOT text.")
      .def("describe", &tg::Variable::describe)
      .def("__add__", [](const tg::Variable& a, const tg::Variable& b) { return a + b; })
      .def("__eq__",
           [](const tg::Variable& a, const py::object& b) {
             return py::isinstance<tg::Variable>(b) && a == b.cast<tg::Variable>();
           })
      .def("__hash__", [](const tg::Variable& v) { return v.defined() ? v.id() : 0; })
      .def("__str__", &value_of)
      .def("__repr__", &repr);

  m.def(
      "to_dot",
      [](const tg::Variable& v, int max_value_chars, bool show_gradients) {
        return tg::to_dot(v, {max_value_chars, show_gradients});
      },
      py::arg("variable"), py::arg("max_value_chars") = 300, py::arg("show_gradients") = true,
      "Graphviz DOT text of the graph that produced `variable`.");
}

}  // namespace tgpy
