// The graph node for LLM calls: forward sends the request once the inputs are ready; backward
// asks the feedback engine about each input that requires grad.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "textgrad/variable.h"

namespace tg::detail {

// Builds the user turn once every input has settled.
using ContentBuilder = std::function<std::vector<ContentPart>()>;

// Starts an LLM call. `system_prompt` may be empty; `inputs` become the output's
// predecessors after it.
Variable start_llm_call(const EnginePtr& engine, const Variable& system_prompt,
                        const std::vector<Variable>& inputs, ContentBuilder build_content,
                        std::string response_role, Phase phase, std::string op_name,
                        std::optional<SamplingParams> sampling = std::nullopt);

// How to ask for feedback on the inputs of one node: the call as the feedback engine sees it,
// and the templates for base mode (the output is the evaluation) and chain mode (the output
// got downstream feedback).
struct FeedbackRequest {
  std::string conversation;
  std::vector<ContentPart> items;  // multimodal inputs, sent again before the request
  const char* base_template;
  const char* chain_template;
};

// One feedback call per predecessor of `output` that requires grad.
std::vector<EdgeJob> feedback_jobs(const Node& output, FeedbackRequest request,
                                   const BackwardContext& context);

// Predecessors in order, without repeats.
std::vector<NodePtr> distinct_nodes(const std::vector<Variable>& variables);

}  // namespace tg::detail
