// What a run records per step (steps/step_NNNN.json) and per evaluated item.
//
// Note [Step records]
// A step file holds everything needed to see why the prompt changed: per training item its
// prediction, score, loss text and the feedback the prediction received; per parameter the
// feedback it received, the optimizer's raw answer, the value it proposed, and the gate that
// accepted or reverted it with the figures it decided on. Optimizers and gates fill
// ParameterRecord (and GateRecord::figures) and the run writes and reports it unchanged, so a
// new gate needs no change to the file format or the report.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tg::cli {

// One example as evaluated or trained on.
struct ItemRecord {
  std::string id;
  std::string input;
  std::string prediction;
  std::string target;
  std::optional<int> score;  // 1 correct, 0 wrong; unset when it could not be scored
  std::string loss;          // training items: the loss text
  std::string feedback;      // training items: the feedback the prediction received
};

struct GateRecord {
  std::string name = "validation";        // which gate decided
  std::string decision;                   // "accepted", "reverted", "unchanged"
  std::optional<double> before;           // the gate's score of the previous value
  std::optional<double> after;            // the gate's score of the proposal
  std::map<std::string, double> figures;  // anything else the gate measured
};

struct ParameterRecord {
  std::string name = "prompt";
  std::string feedback;       // the feedback the parameter received this step
  std::string update_answer;  // the optimizer's raw answer
  std::string proposed;       // the value the optimizer proposed
  std::string status;         // "updated", "kept", "skipped", "failed"
  std::string reason;         // why it was kept, skipped or failed
  GateRecord gate;
};

// One optimization step as the run recorded it (step 0 = before training).
struct StepRecord {
  int step = 0;
  int epoch = 0;
  std::string prompt;                  // the variable's value after this step
  std::optional<double> val_accuracy;  // as recorded after validation (never decreases)
  std::optional<double> test_accuracy;
  bool reverted = false;  // validation got worse, the previous value was restored
  std::string note;       // e.g. why an update was kept or skipped
  std::string time;       // ISO 8601, when the step was written
  std::vector<int> test_scores;
  std::vector<ItemRecord> items;  // the training batch
  std::vector<ParameterRecord> parameters;
  // The optimizer's name, the gate's decision and figures, and the optimizer's state after
  // the step, which --resume restores (optimizer_options.h). Null for step 0. Kept as a
  // document, not text: the step file embeds it, and parsing it back for every step cost more
  // than the rest of the record.
  std::shared_ptr<const nlohmann::json> optimizer;
};

nlohmann::json to_json(const ItemRecord& item);
ItemRecord item_from_json(const nlohmann::json& j);
nlohmann::json to_json(const StepRecord& record);
StepRecord step_from_json(const nlohmann::json& j);

// The step file's text: util::dump_json(to_json(record), 2), byte for byte, written without
// building the document (a run writes one every step). Throws nlohmann's type_error 316 for
// text that is not UTF-8, as the dump does.
std::string step_file_text(const StepRecord& record);

// JSON lines of id, input, prediction, target, score (eval --output, steps/test_NNNN.jsonl).
std::string predictions_jsonl(const std::vector<ItemRecord>& items);
std::vector<ItemRecord> parse_predictions(const std::string& jsonl);

}  // namespace tg::cli
