// The reference's three workloads, shared by tests and benchmarks, plus a deterministic
// responder for scripted engines.
#pragma once

#include <cstdint>
#include <string>

#include "textgrad/textgrad.h"

namespace tg::testing {

std::uint64_t fnv1a(const std::string& text);

// Answers by phase: forward "... Answer: 4", loss a critique, backward a feedback text that
// depends on the prompt (so any reordering would show; one section per variable for a joint
// request), update a tagged new value, reduce a
// summary. Evaluation-style judges get <ACCURACY>1</ACCURACY>.
std::string scripted_answer(const Request& request);

// A scripted engine with scripted_answer and an optional delay.
std::shared_ptr<ScriptedEngine> scripted_engine(int delay_ms = 0);

struct WorkloadOptions {
  int steps = 1;
  int concurrency = 8;
  bool llm_judge = false;         // workload (b): LLM judge instead of the string metric
  std::string optimizer = "tgd";  // tgd | revolve | semantic (TGD updates, joint feedback)
};

// (a) one trainable answer, TextLoss, TGD: 3 calls per step.
void run_solution_workload(const EnginePtr& engine, const WorkloadOptions& options);
// (b) prompt optimization, batch 3, sum of per-item losses: 10 calls per step (13 with judge).
// Returns the final prompt.
std::string run_prompt_workload(const EnginePtr& engine, const WorkloadOptions& options);
// (c) x -> LLM -> LLM -> LLM -> TextLoss with only x trainable: 9 calls per step.
void run_chain_workload(const EnginePtr& engine, const WorkloadOptions& options);
// (d) a two-stage pipeline: planner prompt -> plan, solver prompt + plan -> answer -> TextLoss,
// both prompts trainable: 9 calls per step. The solver call has two trainable inputs: per-edge
// feedback costs 4 backward calls, joint feedback 3. Returns the two final prompts joined by a
// newline.
std::string run_pipeline_workload(const EnginePtr& engine, const WorkloadOptions& options);

}  // namespace tg::testing
