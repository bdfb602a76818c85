// functions.h and modules.h: the graph functions, with Python callables as string functions.
#include "textgrad/functions.h"
#include "common.h"
#include "textgrad/errors.h"
#include "textgrad/modules.h"

namespace tgpy {
namespace {

tg::Fields fields_of(const py::dict& inputs) {
  tg::Fields fields;
  for (auto [name, variable] : inputs) {
    fields.set(py::str(name), variable.cast<tg::Variable>());
  }
  return fields;
}

std::string role_or(const std::optional<std::string>& role, const char* fallback) {
  return role.value_or(fallback);
}

const char* kSystemRole = tg::roles::kSystemPrompt;

// A Python function of named Variables, as the reference's StringBasedFunction calls it:
// fn(**inputs), returning a str or an int.
class PyStringFunction {
 public:
  PyStringFunction(py::object fn, std::string purpose)
      : fn_(std::move(fn)), purpose_(std::move(purpose)) {}

  tg::Variable operator()(const py::dict& inputs, const std::optional<std::string>& role) const {
    const std::string output_role = role_or(role, tg::roles::kFunctionOutput);
    tg::StringBasedFunction function(wrap(output_role), purpose_);
    tg::Fields fields = fields_of(inputs);
    py::gil_scoped_release release;
    return function(fields, output_role);
  }

  const std::string& purpose() const { return purpose_; }

 private:
  // Note [Python callables on library threads]
  // The library runs the function once its inputs are ready, on whatever thread that is. The
  // GIL is taken only around the Python call. A Python exception becomes a tg::Error naming
  // the function's output node, so value() and backward() report which node failed.
  tg::StringBasedFunction::Fn wrap(std::string output_role) const {
    return [fn = fn_, output_role](const tg::Fields& inputs) -> std::string {
      if (!Py_IsInitialized()) throw tg::Error("the Python interpreter has exited");
      py::gil_scoped_acquire gil;
      try {
        py::dict kwargs;
        for (const auto& [name, variable] : inputs) kwargs[py::str(name)] = py::cast(variable);
        py::object out = fn.get()(**kwargs);
        if (py::isinstance<py::str>(out)) return out.cast<std::string>();
        if (py::isinstance<py::int_>(out) && !py::isinstance<py::bool_>(out)) {
          return py::str(out).cast<std::string>();
        }
        throw tg::InvalidArgument("StringBasedFunction '" + output_role +
                                  "': the Python function must return a str or an int, not " +
                                  std::string(py::str(py::type::of(out).attr("__name__"))));
      } catch (py::error_already_set& error) {
        throw tg::Error("StringBasedFunction '" + output_role + "': the Python function raised " +
                        describe_python_error(error));
      }
    };
  }

  PyRef fn_;
  std::string purpose_;
};

}  // namespace

void bind_functions(py::module_& m) {
  py::class_<tg::LLMCall>(m, "LLMCall",
                          "One LLM call: the system prompt (optional) and the input as the user "
                          "message. Returns the output Variable at once; the request runs in "
                          "the background.")
      .def(py::init([](const py::object& engine, const py::object& system_prompt, tg::Phase phase) {
             return tg::LLMCall(engine_arg(engine), variable_arg(system_prompt, kSystemRole),
                                phase);
           }),
           py::arg("engine") = py::none(), py::arg("system_prompt") = py::none(),
           py::arg("phase") = tg::Phase::kForward,
           "phase: what the calls count as in usage accounting (forward, loss, ...).")
      .def(
          "__call__",
          [](const tg::LLMCall& call, const py::object& input,
             const std::optional<std::string>& role) {
            const std::string r = role_or(role, tg::roles::kLlmOutput);
            if (py::isinstance<tg::Variable>(input)) {
              tg::Variable v = input.cast<tg::Variable>();
              py::gil_scoped_release release;
              return call(v, r);
            }
            std::vector<tg::Variable> parts = input.cast<std::vector<tg::Variable>>();
            py::gil_scoped_release release;
            return call(parts, r);
          },
          py::arg("input_variable"), py::arg("response_role_description") = py::none())
      .def_property_readonly("system_prompt", &tg::LLMCall::system_prompt);

  py::class_<tg::MultimodalLLMCall>(m, "MultimodalLLMCall",
                                    "An LLM call on a list of text and image Variables, sent in "
                                    "order as one user turn.")
      .def(py::init([](const py::object& engine, const py::object& system_prompt) {
             return tg::MultimodalLLMCall(engine_arg(engine),
                                          variable_arg(system_prompt, kSystemRole));
           }),
           py::arg("engine") = py::none(), py::arg("system_prompt") = py::none())
      .def(
          "__call__",
          [](const tg::MultimodalLLMCall& call, const std::vector<tg::Variable>& inputs,
             const std::optional<std::string>& role) {
            return call(inputs, role_or(role, tg::roles::kLlmOutput));
          },
          py::arg("inputs"), py::arg("response_role_description") = py::none(),
          py::call_guard<py::gil_scoped_release>());

  py::class_<tg::OrderedFieldsMultimodalLLMCall>(
      m, "OrderedFieldsMultimodalLLMCall",
      "A multimodal call on named fields, sent in the order of `fields`: images as they are, "
      "text as '<Field>: <value>'.")
      .def(py::init([](const py::object& engine, std::vector<std::string> fields,
                       const py::object& system_prompt) {
             return tg::OrderedFieldsMultimodalLLMCall(engine_arg(engine), std::move(fields),
                                                       variable_arg(system_prompt, kSystemRole));
           }),
           py::arg("engine"), py::arg("fields"), py::arg("system_prompt") = py::none())
      .def(
          "__call__",
          [](const tg::OrderedFieldsMultimodalLLMCall& call, const py::dict& inputs,
             const std::optional<std::string>& role) {
            tg::Fields fields = fields_of(inputs);
            py::gil_scoped_release release;
            return call(fields, role_or(role, tg::roles::kLlmOutput));
          },
          py::arg("inputs"), py::arg("response_role_description") = py::none());

  py::class_<tg::FormattedLLMCall>(
      m, "FormattedLLMCall",
      "An LLM call whose user message is a template with named fields, e.g. "
      "'Question: {question}'. The inputs' names must equal `fields`.")
      .def(
          py::init([](const py::object& engine, std::string format, std::vector<std::string> fields,
                      const py::object& system_prompt, tg::Phase phase) {
            return tg::FormattedLLMCall(engine_arg(engine), std::move(format), std::move(fields),
                                        variable_arg(system_prompt, kSystemRole), phase);
          }),
          py::arg("engine"), py::arg("format_string"), py::arg("fields"),
          py::arg("system_prompt") = py::none(), py::arg("phase") = tg::Phase::kForward)
      .def(
          "__call__",
          [](const tg::FormattedLLMCall& call, const py::dict& inputs,
             const std::optional<std::string>& role) {
            tg::Fields fields = fields_of(inputs);
            py::gil_scoped_release release;
            return call(fields, role_or(role, tg::roles::kLlmOutput));
          },
          py::arg("inputs"), py::arg("response_role_description") = py::none());

  py::class_<PyStringFunction>(
      m, "StringBasedFunction",
      "A Python function of named Variables (e.g. an exact-match metric): fn(**inputs) returns "
      "a str or an int. It runs on a library thread once its inputs are ready, with the GIL "
      "taken only around it; backward asks the feedback engine about each input that requires "
      "grad. An exception in fn is raised again, naming this function's output, when the "
      "output's value is read or backward runs.")
      .def(py::init<py::object, std::string>(), py::arg("fn"), py::arg("function_purpose"))
      .def("__call__", &PyStringFunction::operator(), py::arg("inputs"),
           py::arg("response_role_description") = py::none())
      .def("forward", &PyStringFunction::operator(), py::arg("inputs"),
           py::arg("response_role_description") = py::none())
      .def_property_readonly("function_purpose", &PyStringFunction::purpose);

  py::class_<tg::BlackboxLLM>(m, "BlackboxLLM",
                              "A language model with a system prompt; parameters() is the "
                              "system prompt, so an optimizer can improve it.")
      .def(py::init([](const py::object& engine, const py::object& system_prompt) {
             tg::EnginePtr e = engine_arg(engine);
             if (system_prompt.is_none()) return tg::BlackboxLLM(e);
             if (py::isinstance<py::str>(system_prompt)) {
               return tg::BlackboxLLM(e, system_prompt.cast<std::string>());
             }
             return tg::BlackboxLLM(e, system_prompt.cast<tg::Variable>());
           }),
           py::arg("engine") = py::none(), py::arg("system_prompt") = py::none())
      .def(
          "__call__",
          [](const tg::BlackboxLLM& model, const tg::Variable& x,
             const std::optional<std::string>& role) {
            return model(x, role_or(role, tg::roles::kLlmOutput));
          },
          py::arg("x"), py::arg("response_role_description") = py::none(),
          py::call_guard<py::gil_scoped_release>())
      .def(
          "forward",
          [](const tg::BlackboxLLM& model, const tg::Variable& x,
             const std::optional<std::string>& role) {
            return model(x, role_or(role, tg::roles::kLlmOutput));
          },
          py::arg("x"), py::arg("response_role_description") = py::none(),
          py::call_guard<py::gil_scoped_release>())
      .def("parameters", &tg::BlackboxLLM::parameters)
      .def_property_readonly("system_prompt", &tg::BlackboxLLM::system_prompt);

  m.def("sum", &tg::sum, py::arg("variables"), py::call_guard<py::gil_scoped_release>(),
        "The values joined by newlines; backward passes the feedback on to every part once.");
  m.def("aggregate", &tg::aggregate, py::arg("variables"), py::call_guard<py::gil_scoped_release>(),
        "Like sum, but feedback from one group is merged by an LLM call where it meets.");
  m.def("concat", &tg::concat, py::arg("variables"), py::arg("separator") = "\n",
        py::call_guard<py::gil_scoped_release>());
}

}  // namespace tgpy
