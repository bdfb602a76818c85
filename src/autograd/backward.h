// The backward executor.
#pragma once

#include "autograd/node.h"

namespace tg::detail {

void run_backward(const NodePtr& root, Engine& engine, const Prompts& prompts,
                  const BackwardOptions& options);

// Merges feedback that belongs to one aggregate group into one summary (one LLM call per
// group with two or more pieces). Public for tests.
void reduce_gradients(Node& node, const BackwardContext& context);

}  // namespace tg::detail
