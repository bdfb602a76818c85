// Helpers shared by the binding files: holding Python objects from C++ threads, calling Python
// from library worker threads, and turning Python arguments into engines and Variables.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <utility>

#include "textgrad/engine.h"
#include "textgrad/variable.h"

namespace py = pybind11;

namespace tgpy {

// Note [Python objects held by C++]
// Library objects (graph nodes, engines, std::function copies) may be destroyed on any thread,
// usually one that does not hold the GIL. A py::object released there would corrupt the
// interpreter, so C++ holds Python objects only through PyRef: its last owner takes the GIL to
// drop the reference (and leaks it if the interpreter is already gone).
class PyRef {
 public:
  explicit PyRef(py::object object);
  // Requires the GIL.
  const py::object& get() const { return *object_; }

 private:
  std::shared_ptr<py::object> object_;
};

// "ValueError: message" for the Python exception being handled. Requires the GIL.
std::string describe_python_error(py::error_already_set& error);

// Turns an engine argument into an engine: None means the default backward engine
// (set_backward_engine), a str is an engine name for get_engine, a native engine is used as
// is, and an object with a generate() method (an EngineLM subclass) is adapted. Requires the
// GIL.
tg::EnginePtr engine_arg(const py::object& engine);

// A Python Variable-like argument: a Variable, or a str which becomes a frozen Variable with
// `role`. None gives an empty handle.
tg::Variable variable_arg(const py::object& value, const std::string& role);

// "per-edge", or "semantic" / "joint" (semantic backpropagation); InvalidArgument otherwise.
tg::BackwardMode backward_mode_arg(const std::string& mode);

// The engine adapter for Python objects implementing generate() (engine.cpp).
tg::EnginePtr make_python_engine(py::object engine, int max_workers);

void bind_errors(py::module_& m);
void bind_engine(py::module_& m);
void bind_engines(py::module_& m);
void bind_usage(py::module_& m);
void bind_variable(py::module_& m);
void bind_functions(py::module_& m);
void bind_losses(py::module_& m);
void bind_optimizers(py::module_& m);
void bind_prompts(py::module_& m);
void bind_data(py::module_& m);
void bind_search(py::module_& m);

}  // namespace tgpy
