// Graphviz DOT export of a computation graph, for looking at what a forward and backward pass
// built: `dot -Tsvg graph.dot > graph.svg`.
#pragma once

#include <string>

#include "textgrad/variable.h"

namespace tg {

struct DotOptions {
  // Values and feedback texts longer than this many characters (Unicode code points) are cut
  // and end in " …"; 0 or less shows them in full.
  int max_value_chars = 300;
  // Adds each Variable's feedback texts to its label.
  bool show_gradients = true;
};

// One box per Variable reachable from `root` through predecessors, labelled with its role,
// the operation that produced it ("leaf" or "image" for inputs), requires_grad, its value and
// (optionally) its feedback; one edge from each predecessor to its consumer. The output is
// deterministic for a given graph: nodes are numbered in depth-first order from the root,
// predecessors in order. Pending values are shown as "[pending]" instead of waiting for them.
std::string to_dot(const Variable& root, const DotOptions& options = {});

}  // namespace tg
