// tg:: exceptions as Python exceptions with the same messages:
//   Error(RuntimeError) <- InvalidArgument (also ValueError), ParseError, EngineError,
//   BackwardError, BudgetExceeded. EngineError carries .kind ("rate_limited", ...) and
//   .http_status.
#include "common.h"

#include "textgrad/errors.h"
#include "textgrad/usage.h"

namespace tgpy {
namespace {

PyObject* make_exception(py::module_& m, const char* name, py::handle base, const char* doc) {
  py::object type = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      (std::string("textgrad_cpp.") + name).c_str(), doc, base.ptr(), nullptr));
  m.attr(name) = type;
  return type.release().ptr();  // lives as long as the interpreter
}

}  // namespace

void bind_errors(py::module_& m) {
  static PyObject* error = make_exception(m, "Error", PyExc_RuntimeError,
                                          "Base of every error textgrad-cpp raises on purpose.");
  py::tuple invalid_bases = py::make_tuple(py::handle(error), py::handle(PyExc_ValueError));
  static PyObject* invalid =
      make_exception(m, "InvalidArgument", invalid_bases, "An argument the API cannot accept.");
  static PyObject* parse =
      make_exception(m, "ParseError", error, "An LLM answer did not have the expected shape.");
  static PyObject* engine = make_exception(
      m, "EngineError", error,
      "An LLM request failed. .kind names what went wrong ('rate_limited', 'timeout', "
      "'authentication', ...), .http_status the HTTP status (0 if none).");
  static PyObject* backward = make_exception(
      m, "BackwardError", error, "backward() failed at one node; the message names the node.");
  static PyObject* budget =
      make_exception(m, "BudgetExceeded", error, "A token or dollar budget is used up.");

  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      std::rethrow_exception(thrown);
    } catch (const tg::EngineError& e) {
      py::object instance = py::reinterpret_borrow<py::object>(engine)(e.what());
      instance.attr("kind") = tg::to_string(e.kind());
      instance.attr("http_status") = e.http_status();
      instance.attr("transient") = e.transient();
      PyErr_SetObject(engine, instance.ptr());
    } catch (const tg::InvalidArgument& e) {
      PyErr_SetString(invalid, e.what());
    } catch (const tg::ParseError& e) {
      PyErr_SetString(parse, e.what());
    } catch (const tg::BackwardError& e) {
      PyErr_SetString(backward, e.what());
    } catch (const tg::BudgetExceeded& e) {
      PyErr_SetString(budget, e.what());
    } catch (const tg::Error& e) {
      PyErr_SetString(error, e.what());
    }
  });
}

}  // namespace tgpy
