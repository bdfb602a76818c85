// loss.h: LLM evaluations whose output is the loss backward starts from. Constructors take
// the reference's argument order: instruction first, then engine (None = the backward engine).
#include "common.h"
#include "textgrad/errors.h"
#include "textgrad/loss.h"

namespace tgpy {
namespace {

constexpr const char* kInstructionRole = "evaluation instruction to the evaluation function";
constexpr const char* kEvalSystemRole = "system prompt of the evaluation function";

tg::Variable instruction_arg(const py::object& instruction) {
  if (instruction.is_none()) throw tg::InvalidArgument("the evaluation instruction is required");
  return variable_arg(instruction, kInstructionRole);
}

std::string text_arg(const py::object& value) {
  if (py::isinstance<tg::Variable>(value)) return value.cast<tg::Variable>().value();
  return value.cast<std::string>();
}

}  // namespace

void bind_losses(py::module_& m) {
  py::class_<tg::TextLoss>(m, "TextLoss",
                           "An LLM evaluation in natural language: the instruction is the "
                           "system prompt, the evaluated Variable the user message.")
      .def(py::init([](const py::object& instruction, const py::object& engine) {
             if (py::isinstance<py::str>(instruction)) {
               return tg::TextLoss(engine_arg(engine), instruction.cast<std::string>());
             }
             return tg::TextLoss(engine_arg(engine), instruction_arg(instruction));
           }),
           py::arg("eval_system_prompt"), py::arg("engine") = py::none())
      .def("__call__", &tg::TextLoss::operator(), py::arg("instance"),
           py::call_guard<py::gil_scoped_release>())
      .def("forward", &tg::TextLoss::operator(), py::arg("instance"),
           py::call_guard<py::gil_scoped_release>());

  py::class_<tg::MultiFieldEvaluation>(
      m, "MultiFieldEvaluation",
      "Evaluates several Variables together: the instruction, then one '**<role>**: <value>' "
      "line per input.")
      .def(py::init([](const py::object& instruction, std::vector<std::string> roles,
                       const py::object& engine, const py::object& system_prompt) {
             return tg::MultiFieldEvaluation(engine_arg(engine), instruction_arg(instruction),
                                             std::move(roles),
                                             variable_arg(system_prompt, kEvalSystemRole));
           }),
           py::arg("evaluation_instruction"), py::arg("role_descriptions"),
           py::arg("engine") = py::none(), py::arg("system_prompt") = py::none())
      .def("__call__", &tg::MultiFieldEvaluation::operator(), py::arg("inputs"),
           py::call_guard<py::gil_scoped_release>())
      .def("forward", &tg::MultiFieldEvaluation::operator(), py::arg("inputs"),
           py::call_guard<py::gil_scoped_release>());

  py::class_<tg::MultiFieldTokenParsedEvaluation, tg::MultiFieldEvaluation>(
      m, "MultiFieldTokenParsedEvaluation",
      "A MultiFieldEvaluation whose answer carries its verdict between parse_tags, e.g. "
      "['<ACCURACY>', '</ACCURACY>'].")
      .def(py::init([](const py::object& instruction, std::vector<std::string> roles,
                       const py::object& engine, const py::object& system_prompt,
                       const std::optional<std::vector<std::string>>& tags) {
             if (!tags || tags->size() != 2) {
               throw tg::InvalidArgument(
                   "MultiFieldTokenParsedEvaluation needs parse_tags=[opening, closing], e.g. "
                   "['<ACCURACY>', '</ACCURACY>']");
             }
             return tg::MultiFieldTokenParsedEvaluation(
                 engine_arg(engine), instruction_arg(instruction), std::move(roles),
                 {(*tags)[0], (*tags)[1]}, variable_arg(system_prompt, kEvalSystemRole));
           }),
           py::arg("evaluation_instruction"), py::arg("role_descriptions"),
           py::arg("engine") = py::none(), py::arg("system_prompt") = py::none(),
           py::arg("parse_tags") = py::none())
      .def("parse_output", &tg::MultiFieldTokenParsedEvaluation::parse_output, py::arg("response"),
           py::call_guard<py::gil_scoped_release>(),
           "The trimmed text between the tags; ParseError if the opening tag is missing.");

  py::class_<tg::MultiChoiceTestTime>(
      m, "MultiChoiceTestTime",
      "Test-time loss for a multiple-choice solution: a critic that points out flaws without "
      "solving the question itself.")
      .def(py::init([](std::string instruction, const py::object& engine,
                       const py::object& system_prompt) {
             return tg::MultiChoiceTestTime(engine_arg(engine), std::move(instruction),
                                            variable_arg(system_prompt, kEvalSystemRole));
           }),
           py::arg("evaluation_instruction"), py::arg("engine") = py::none(),
           py::arg("system_prompt") = py::none())
      .def(
          "__call__",
          [](const tg::MultiChoiceTestTime& loss, const py::object& question,
             const tg::Variable& prediction) {
            std::string q = text_arg(question);
            py::gil_scoped_release release;
            return loss(q, prediction);
          },
          py::arg("question"), py::arg("prediction"));

  py::class_<tg::ImageQALoss>(m, "ImageQALoss",
                              "Evaluates an answer to a question about an image: instruction, "
                              "question, image and answer are sent in that order.")
      .def(py::init([](std::string instruction, const py::object& engine,
                       const py::object& system_prompt) {
             return tg::ImageQALoss(engine_arg(engine), std::move(instruction),
                                    variable_arg(system_prompt, kEvalSystemRole));
           }),
           py::arg("evaluation_instruction"), py::arg("engine") = py::none(),
           py::arg("system_prompt") = py::none())
      .def(
          "__call__",
          [](const tg::ImageQALoss& loss, const py::object& question, const tg::Variable& image,
             const tg::Variable& response) {
            tg::Variable q = variable_arg(question, "question about the image");
            py::gil_scoped_release release;
            return loss(q, image, response);
          },
          py::arg("question"), py::arg("image"), py::arg("response"));
}

}  // namespace tgpy
