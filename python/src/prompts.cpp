// prompts.h: every prompt template, named and overridable.
#include "textgrad/prompts.h"
#include "common.h"

namespace tgpy {

void bind_prompts(py::module_& m) {
  py::class_<tg::TemplateInfo>(m, "TemplateInfo")
      .def_readonly("name", &tg::TemplateInfo::name)
      .def_readonly("purpose", &tg::TemplateInfo::purpose)
      .def_readonly("placeholders", &tg::TemplateInfo::placeholders);

  py::class_<tg::Prompts, std::shared_ptr<tg::Prompts>>(
      m, "Prompts",
      "Every prompt template the library sends. Copy the defaults, set() what you need, and "
      "pass it to backward(prompts=...) or an optimizer.")
      .def(py::init<>())
      .def_static("catalogue", &tg::Prompts::catalogue,
                  "Names, purposes and placeholders of all templates.")
      .def("get", &tg::Prompts::get, py::arg("name"))
      .def("set", &tg::Prompts::set, py::arg("name"), py::arg("text"),
           "Replaces a template; raises InvalidArgument for an unknown name or placeholder.")
      .def(
          "render",
          [](const tg::Prompts& p, const std::string& name,
             const std::map<std::string, std::string>& values) {
            tg::Prompts::Values list(values.begin(), values.end());
            return p.render(name, list);
          },
          py::arg("name"), py::arg("values"));
}

}  // namespace tgpy
