// Step records survive their JSON: a finishing run reports from the records it holds rather
// than the files it wrote (Note [Reports from what the run holds]), which is only right while
// to_json() and step_from_json() carry every field. And the step file, written without the
// document, is the document's dump.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_records.h"
#include "util/json_dump.h"

namespace tg::cli {
namespace {

StepRecord every_field_set() {
  StepRecord record;
  record.step = 7;
  record.epoch = 2;
  record.prompt = "Count \"carefully\".\nAnswer: N";
  record.val_accuracy = 0.625;
  record.test_accuracy = 0.5;
  record.reverted = true;
  record.note = "validation fell";
  record.time = "2026-12-07T03:00:00Z";
  record.test_scores = {1, 0, 1};
  record.items = {{"q1", "two apples", "2", "2", 1, "right", "keep going"},
                  {"q2", "a pear", "3", "1", std::nullopt, "", ""}};
  ParameterRecord parameter;
  parameter.name = "system prompt";
  parameter.feedback = "be brief";
  parameter.update_answer = "<IMPROVED>x</IMPROVED>";
  parameter.proposed = "x";
  parameter.status = "kept";
  parameter.reason = "worse on validation";
  parameter.gate = {"paired", "reverted", 0.7, 0.6, {{"p_value", 0.04}, {"wins", 3}}};
  record.parameters = {parameter, ParameterRecord{}};
  record.optimizer = std::make_shared<const nlohmann::json>(
      nlohmann::json{{"name", "tgd"}, {"state", {{"past_values", {"a", "b"}}}}});
  return record;
}

TEST(StepRecords, EveryFieldSurvivesTheDocument) {
  const StepRecord record = every_field_set();
  const nlohmann::json document = to_json(record);
  const StepRecord back = step_from_json(document);
  EXPECT_EQ(to_json(back), document);
  EXPECT_EQ(back.items.at(1).score, std::nullopt);
  EXPECT_EQ(back.parameters.at(0).gate.figures, record.parameters.at(0).gate.figures);
  ASSERT_TRUE(back.optimizer);
  EXPECT_EQ(*back.optimizer, *record.optimizer);
}

TEST(StepRecords, TheStepFileIsTheDocumentsDump) {
  StepRecord odd = every_field_set();
  odd.prompt =
      "tab\there, NUL \0 inside, \x01, \"quoted\", \\ and \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  odd.items.at(0).feedback.clear();  // an item with a loss and no feedback
  odd.val_accuracy.reset();
  odd.test_scores.clear();
  odd.parameters.at(0).gate.figures.clear();
  odd.parameters.at(0).gate.after = 1.0;
  odd.parameters.at(0).gate.before = 1e-300;
  odd.optimizer = std::make_shared<const nlohmann::json>(
      nlohmann::json{{"empty", nlohmann::json::object()},
                     {"list", {nlohmann::json::array(), {{"deep", {1, 2.5, nullptr, true}}}}},
                     {"text", "multi\nline"}});
  StepRecord empty_optimizer = every_field_set();
  empty_optimizer.optimizer = std::make_shared<const nlohmann::json>(nlohmann::json::object());

  for (const StepRecord& record : {every_field_set(), StepRecord{}, odd, empty_optimizer}) {
    EXPECT_EQ(step_file_text(record), util::dump_json(to_json(record), 2))
        << "step " << record.step;
  }

  StepRecord bad = every_field_set();
  bad.items.at(1).prediction = "not \xFF UTF-8";
  EXPECT_THROW(step_file_text(bad), nlohmann::json::type_error);
  EXPECT_THROW(util::dump_json(to_json(bad), 2), nlohmann::json::type_error);
}

}  // namespace
}  // namespace tg::cli
