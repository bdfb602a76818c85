// Step records survive their JSON: a finishing run reports from the records it holds rather
// than the files it wrote (Note [Reports from what the run holds]), which is only right while
// to_json() and step_from_json() carry every field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_records.h"

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

}  // namespace
}  // namespace tg::cli
