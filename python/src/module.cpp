// The compiled half of the textgrad_cpp package. One file per public header area; the
// reference-style layer (default engine, keyword names) is the pure-Python package around it.
#include "common.h"

PYBIND11_MODULE(_textgrad_cpp, m) {
  m.doc() = "textgrad-cpp: automatic differentiation via text (compiled core).";
  tgpy::bind_errors(m);
  tgpy::bind_engine(m);
  tgpy::bind_usage(m);
  tgpy::bind_engines(m);
  tgpy::bind_variable(m);
  tgpy::bind_prompts(m);
  tgpy::bind_functions(m);
  tgpy::bind_losses(m);
  tgpy::bind_optimizers(m);
  tgpy::bind_data(m);
  tgpy::bind_search(m);
}
