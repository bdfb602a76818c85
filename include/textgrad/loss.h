// Losses: LLM evaluations whose text output is the "loss" that backward starts from.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/functions.h"
#include "textgrad/prompts.h"
#include "textgrad/variable.h"

namespace tg {

// An LLM evaluation in natural language: the evaluation instruction is the system prompt and
// the evaluated text is the user message.
class TextLoss {
 public:
  // A string instruction becomes a frozen Variable; a Variable that requires grad is
  // optimized too.
  TextLoss(EnginePtr engine, std::string evaluation_instruction);
  TextLoss(EnginePtr engine, Variable evaluation_instruction);

  Variable operator()(const Variable& instance) const;

 private:
  LLMCall call_;
};

// Evaluates several Variables together: the instruction, then one line "**<role>**: <value>"
// per input, sent with a system prompt that defaults to a short comparison-judge prompt. The
// role descriptions label the inputs locally; the inputs' own roles are left alone.
class MultiFieldEvaluation {
 public:
  MultiFieldEvaluation(EnginePtr engine, Variable evaluation_instruction,
                       std::vector<std::string> role_descriptions, Variable system_prompt = {},
                       const Prompts& prompts = Prompts());

  Variable operator()(const std::vector<Variable>& inputs) const;

  // Accounting phase of the evaluation calls (kLoss by default; kEvaluation when judging a
  // test set).
  void set_phase(Phase phase) { phase_ = phase; }

 private:
  EnginePtr engine_;
  Variable instruction_;
  std::vector<std::string> labels_;
  Variable system_prompt_;
  std::string line_format_;
  std::string output_role_;
  Phase phase_ = Phase::kLoss;
};

// A MultiFieldEvaluation whose answer carries its verdict between two tags, e.g.
// <ACCURACY> and </ACCURACY>.
class MultiFieldTokenParsedEvaluation : public MultiFieldEvaluation {
 public:
  MultiFieldTokenParsedEvaluation(EnginePtr engine, Variable evaluation_instruction,
                                  std::vector<std::string> role_descriptions,
                                  std::pair<std::string, std::string> parse_tags,
                                  Variable system_prompt = {}, const Prompts& prompts = Prompts());

  // The trimmed text between the tags; ParseError if the opening tag is missing.
  std::string parse_output(const Variable& evaluation) const;

 private:
  std::pair<std::string, std::string> tags_;
};

// Test-time loss for a multiple-choice solution: a critic that points out flaws in the
// reasoning without solving the question itself.
class MultiChoiceTestTime {
 public:
  MultiChoiceTestTime(EnginePtr engine, std::string evaluation_instruction,
                      Variable system_prompt = {}, const Prompts& prompts = Prompts());

  Variable operator()(const std::string& question, const Variable& prediction) const;

 private:
  EnginePtr engine_;
  std::string instruction_;
  std::string user_format_;
  Variable system_prompt_;
  std::string instruction_role_;
  std::string question_role_;
};

// Evaluates an answer to a question about an image: the instruction, the question, the image
// and the answer are sent in that order, labelled.
class ImageQALoss {
 public:
  ImageQALoss(EnginePtr engine, std::string evaluation_instruction, Variable system_prompt = {},
              const Prompts& prompts = Prompts());

  Variable operator()(const Variable& question, const Variable& image,
                      const Variable& response) const;

 private:
  EnginePtr engine_;
  Variable instruction_;
  Variable system_prompt_;
  std::vector<std::string> labels_;  // instruction, question, image, answer
};

}  // namespace tg
