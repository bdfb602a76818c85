#include "run_records.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "util/json_dump.h"
#include "util/json_parse.h"

namespace tg::cli {

using nlohmann::json;

namespace {

json optional_number(const std::optional<double>& value) {
  return value ? json(*value) : json(nullptr);
}

std::optional<double> number_or_null(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<double>();
}

std::string dump(const json& j) { return util::dump_json(j, -1, util::InvalidUtf8::kReplace); }

}  // namespace

json to_json(const ItemRecord& item) {
  json j = {{"id", item.id},
            {"input", item.input},
            {"prediction", item.prediction},
            {"target", item.target},
            {"score", item.score ? json(*item.score) : json(nullptr)}};
  if (!item.loss.empty()) j["loss"] = item.loss;
  if (!item.feedback.empty()) j["feedback"] = item.feedback;
  return j;
}

ItemRecord item_from_json(const json& j) {
  ItemRecord item;
  item.id = j.value("id", "");
  item.input = j.value("input", "");
  item.prediction = j.value("prediction", "");
  item.target = j.value("target", "");
  if (j.contains("score") && !j["score"].is_null()) item.score = j["score"].get<int>();
  item.loss = j.value("loss", "");
  item.feedback = j.value("feedback", "");
  return item;
}

json to_json(const StepRecord& r) {
  json items = json::array();
  for (const ItemRecord& item : r.items) items.push_back(to_json(item));
  json parameters = json::array();
  for (const ParameterRecord& p : r.parameters) {
    parameters.push_back({{"name", p.name},
                          {"feedback", p.feedback},
                          {"update_answer", p.update_answer},
                          {"proposed", p.proposed},
                          {"status", p.status},
                          {"reason", p.reason},
                          {"gate",
                           {{"name", p.gate.name},
                            {"decision", p.gate.decision},
                            {"before", optional_number(p.gate.before)},
                            {"after", optional_number(p.gate.after)},
                            {"figures", p.gate.figures}}}});
  }
  json j = {{"step", r.step},
            {"epoch", r.epoch},
            {"prompt", r.prompt},
            {"reverted", r.reverted},
            {"note", r.note},
            {"time", r.time},
            {"val_accuracy", optional_number(r.val_accuracy)},
            {"test_accuracy", optional_number(r.test_accuracy)},
            {"test_scores", r.test_scores},
            {"items", std::move(items)},  // moved, not copied, into the document
            {"parameters", std::move(parameters)}};
  if (r.optimizer) j["optimizer"] = *r.optimizer;
  return j;
}

StepRecord step_from_json(const json& j) {
  StepRecord r;
  r.step = j.at("step");
  r.epoch = j.value("epoch", 0);
  r.prompt = j.at("prompt");
  r.reverted = j.value("reverted", false);
  r.note = j.value("note", "");
  r.time = j.value("time", "");
  r.val_accuracy = number_or_null(j, "val_accuracy");
  r.test_accuracy = number_or_null(j, "test_accuracy");
  if (j.contains("test_scores")) r.test_scores = j["test_scores"].get<std::vector<int>>();
  for (const json& item : j.value("items", json::array())) r.items.push_back(item_from_json(item));
  for (const json& p : j.value("parameters", json::array())) {
    ParameterRecord parameter;
    parameter.name = p.value("name", "prompt");
    parameter.feedback = p.value("feedback", "");
    parameter.update_answer = p.value("update_answer", "");
    parameter.proposed = p.value("proposed", "");
    parameter.status = p.value("status", "");
    parameter.reason = p.value("reason", "");
    const json gate = p.value("gate", json::object());
    parameter.gate.name = gate.value("name", "validation");
    parameter.gate.decision = gate.value("decision", "");
    parameter.gate.before = number_or_null(gate, "before");
    parameter.gate.after = number_or_null(gate, "after");
    if (gate.contains("figures")) {
      parameter.gate.figures = gate["figures"].get<std::map<std::string, double>>();
    }
    r.parameters.push_back(std::move(parameter));
  }
  if (j.contains("optimizer")) r.optimizer = std::make_shared<const json>(j["optimizer"]);
  return r;
}

std::string predictions_jsonl(const std::vector<ItemRecord>& items) {
  std::string out;
  for (const ItemRecord& item : items) {
    json j = to_json(item);
    j.erase("loss");
    j.erase("feedback");
    out += dump(j) + "\n";
  }
  return out;
}

std::vector<ItemRecord> parse_predictions(const std::string& jsonl) {
  std::vector<ItemRecord> items;
  std::istringstream lines(jsonl);
  std::string line;
  while (std::getline(lines, line)) {
    json j = util::parse_json_or_discarded(line);
    if (j.is_object()) items.push_back(item_from_json(j));
  }
  return items;
}

}  // namespace tg::cli
