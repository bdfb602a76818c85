#include "run_records.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "util/json_dump.h"
#include "util/json_parse.h"
#include "util/json_writer.h"

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

namespace {

// Members in nlohmann's sorted order: the bytes of the documents to_json() builds.
void write_number_or_null(util::JsonWriter& out, const std::optional<double>& value) {
  value ? out.number(*value) : out.raw("null");
}

void write_item(util::JsonWriter& out, const ItemRecord& item) {
  out.begin_object();
  if (!item.feedback.empty()) out.key("feedback").string(item.feedback);
  out.key("id").string(item.id).key("input").string(item.input);
  if (!item.loss.empty()) out.key("loss").string(item.loss);
  out.key("prediction").string(item.prediction).key("score");
  item.score ? out.number(std::int64_t{*item.score}) : out.raw("null");
  out.key("target").string(item.target).end_object();
}

void write_gate(util::JsonWriter& out, const GateRecord& gate) {
  out.begin_object().key("after");
  write_number_or_null(out, gate.after);
  out.key("before");
  write_number_or_null(out, gate.before);
  out.key("decision").string(gate.decision).key("figures").begin_object();
  for (const auto& [name, value] : gate.figures) out.key(name).number(value);
  out.end_object().key("name").string(gate.name).end_object();
}

void write_parameter(util::JsonWriter& out, const ParameterRecord& p) {
  out.begin_object().key("feedback").string(p.feedback).key("gate");
  write_gate(out, p.gate);
  out.key("name").string(p.name).key("proposed").string(p.proposed);
  out.key("reason").string(p.reason).key("status").string(p.status);
  out.key("update_answer").string(p.update_answer).end_object();
}

}  // namespace

std::string step_file_text(const StepRecord& r) {
  util::JsonWriter out(2);
  out.begin_object().key("epoch").number(std::int64_t{r.epoch}).key("items").begin_array();
  for (const ItemRecord& item : r.items) write_item(out, item);
  out.end_array().key("note").string(r.note);
  if (r.optimizer) out.key("optimizer").raw(util::dump_json(*r.optimizer, 2));
  out.key("parameters").begin_array();
  for (const ParameterRecord& p : r.parameters) write_parameter(out, p);
  out.end_array().key("prompt").string(r.prompt).key("reverted").boolean(r.reverted);
  out.key("step").number(std::int64_t{r.step}).key("test_accuracy");
  write_number_or_null(out, r.test_accuracy);
  out.key("test_scores").begin_array();
  for (const int score : r.test_scores) out.number(std::int64_t{score});
  out.end_array().key("time").string(r.time).key("val_accuracy");
  write_number_or_null(out, r.val_accuracy);
  out.end_object();
  return out.take();
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
