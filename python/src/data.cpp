// data.h: built-in tasks with the reference's splits, and its metrics.
#include "textgrad/data.h"
#include "common.h"

namespace tgpy {

void bind_data(py::module_& m) {
  py::class_<tg::Example>(m, "Example")
      .def_readonly("id", &tg::Example::id)
      .def_readonly("input", &tg::Example::input)
      .def_readonly("target", &tg::Example::target)
      .def_readonly("image_path", &tg::Example::image_path)
      .def("__iter__",
           [](const tg::Example& e) { return py::iter(py::make_tuple(e.input, e.target)); });
  py::class_<tg::Splits>(m, "Splits")
      .def_readonly("train", &tg::Splits::train)
      .def_readonly("val", &tg::Splits::val)
      .def_readonly("test", &tg::Splits::test);

  m.def("find_data_dir", &tg::find_data_dir, py::arg("explicit_dir") = "",
        "The folder holding the built-in datasets: explicit_dir, $TEXTGRAD_DATA_DIR, the "
        "install location, the source tree.");
  m.def("builtin_task_names", &tg::builtin_task_names);
  m.def("load_builtin_task", &tg::load_builtin_task, py::arg("name"), py::arg("data_dir") = "",
        py::call_guard<py::gil_scoped_release>(),
        "'object_counting', 'word_sorting' or 'gsm8k' with the reference's splits.");
  m.def(
      "load_examples", [](const std::string& path) { return tg::load_examples(path); },
      py::arg("path"), "Examples from a .jsonl or .csv file (input/question, target/answer).");
  m.def("string_metric", &tg::string_metric, py::arg("prediction"), py::arg("ground_truth_answer"),
        "1 iff both parse to the same integer, as the reference's metric.");
  m.def("exact_match", &tg::exact_match, py::arg("prediction"), py::arg("truth"));
  m.def("parse_integer_answer", &tg::parse_integer_answer, py::arg("text"));
  m.def("accuracy", &tg::accuracy, py::arg("scores"));
}

}  // namespace tgpy
