#include "common.h"

#include "textgrad/errors.h"

namespace tgpy {

PyRef::PyRef(py::object object)
    : object_(new py::object(std::move(object)), [](py::object* held) {
        // See Note [Python objects held by C++].
        if (!Py_IsInitialized()) return;
        py::gil_scoped_acquire gil;
        delete held;
      }) {}

std::string describe_python_error(py::error_already_set& error) {
  std::string type = py::str(error.type().attr("__name__"));
  std::string message = py::str(error.value());
  return message.empty() ? type : type + ": " + message;
}

tg::EnginePtr engine_arg(const py::object& engine) {
  if (engine.is_none()) {
    py::object fallback = py::module_::import("textgrad_cpp.config").attr("get_backward_engine")();
    return engine_arg(fallback);
  }
  if (py::isinstance<tg::Engine>(engine)) return engine.cast<tg::EnginePtr>();
  if (py::isinstance<py::str>(engine)) {
    return engine_arg(py::module_::import("textgrad_cpp.engine").attr("get_engine")(engine));
  }
  if (py::hasattr(engine, "generate")) {
    // Note [One adapter per Python engine]
    // The adapter is made once and kept on the object, so every function and optimizer using
    // the engine shares its worker threads and its concurrency limit. The adapter holds the
    // object, so a Python engine lives as long as the program once the library has used it.
    if (py::hasattr(engine, "_textgrad_native")) {
      return engine.attr("_textgrad_native").cast<tg::EnginePtr>();
    }
    int workers = 8;
    if (py::hasattr(engine, "max_concurrency"))
      workers = engine.attr("max_concurrency").cast<int>();
    tg::EnginePtr native = make_python_engine(engine, workers);
    engine.attr("_textgrad_native") = py::cast(native);
    return native;
  }
  throw tg::InvalidArgument(
      "expected an engine: a name such as \"openai/gpt-4o\", an engine from get_engine(), or an "
      "object with a generate(prompt, system_prompt=None, **kwargs) method; got " +
      std::string(py::str(py::type::of(engine).attr("__name__"))));
}

tg::Variable variable_arg(const py::object& value, const std::string& role) {
  if (value.is_none()) return {};
  if (py::isinstance<tg::Variable>(value)) return value.cast<tg::Variable>();
  if (py::isinstance<py::str>(value)) return tg::Variable(value.cast<std::string>(), role, false);
  throw tg::InvalidArgument("expected a Variable or a str, got " +
                            std::string(py::str(py::type::of(value).attr("__name__"))));
}

tg::BackwardMode backward_mode_arg(const std::string& mode) {
  if (mode == "per-edge") return tg::BackwardMode::kPerEdge;
  if (mode == "semantic" || mode == "joint") return tg::BackwardMode::kJoint;
  throw tg::InvalidArgument("backward mode must be 'per-edge' or 'semantic', not '" + mode + "'");
}

}  // namespace tgpy
