#include "textgrad/graph.h"

#include <algorithm>
#include <exception>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "autograd/node.h"

namespace tg {
namespace {

using detail::NodePtr;

// Nodes in depth-first preorder from the root, predecessors in order. Iterative because a
// long chain of updates or concatenations could overflow the call stack.
std::vector<NodePtr> reachable_nodes(const NodePtr& root) {
  std::vector<NodePtr> order;
  std::unordered_set<const detail::Node*> seen;
  std::vector<NodePtr> stack{root};
  while (!stack.empty()) {
    NodePtr node = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(node.get()).second) continue;
    order.push_back(node);
    // Reversed so the first predecessor is visited first, as a recursive DFS would.
    for (auto it = node->predecessors.rbegin(); it != node->predecessors.rend(); ++it) {
      if (!seen.contains(it->get())) stack.push_back(*it);
    }
  }
  return order;
}

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Cuts at a code point boundary so the label stays valid UTF-8.
std::string shorten(const std::string& text, int max_chars) {
  if (max_chars <= 0) return text;
  int chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (is_utf8_continuation(text[i])) continue;
    if (chars == max_chars) return text.substr(0, i) + " …";
    ++chars;
  }
  return text;
}

std::string value_text(const detail::Node& node, int max_chars) {
  if (node.image)
    return fmt::format("[image: {}, {} bytes]", node.image->media_type, node.image->data.size());
  if (!node.ready()) return "[pending]";
  if (auto error = node.error()) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return shorten(fmt::format("[failed: {}]", e.what()), max_chars);
    } catch (...) {
      return "[failed]";
    }
  }
  return shorten(node.value(), max_chars);
}

std::string op_name(const detail::Node& node) {
  if (node.grad_fn) return node.grad_fn->name();
  return node.image ? "image" : "leaf";
}

// Escapes text for a quoted DOT label. Every line ends in \l so multi-line values are
// left-aligned, which reads better for prompts than Graphviz's default centering.
std::string dot_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t plain = 0;  // start of the run of characters copied as they are
  for (size_t i = 0; i < text.size(); ++i) {
    std::string_view replacement;
    switch (text[i]) {
      case '\\':
        replacement = "\\\\";
        break;
      case '"':
        replacement = "\\\"";
        break;
      case '\n':
        replacement = "\\l";
        break;
      case '\r':
        break;
      default:
        continue;
    }
    out.append(text.substr(plain, i - plain)).append(replacement);
    plain = i + 1;
  }
  return out.append(text.substr(plain));
}

std::string label_of(const detail::Node& node, const DotOptions& options) {
  std::vector<std::string> lines = {
      node.role(),
      "op: " + op_name(node),
      fmt::format("requires_grad: {}", node.requires_grad()),
      "value: " + value_text(node, options.max_value_chars),
  };
  if (options.show_gradients) {
    node.for_each_gradient([&](const Gradient& g) {
      lines.push_back("gradient: " + shorten(g.text, options.max_value_chars));
    });
  }
  std::string label;
  for (const std::string& line : lines) label += dot_escape(line) + "\\l";
  return label;
}

}  // namespace

std::string to_dot(const Variable& root, const DotOptions& options) {
  const std::vector<NodePtr> nodes = reachable_nodes(root.node());
  // DFS numbers rather than node ids, so the same graph gives the same text in every process.
  std::unordered_map<const detail::Node*, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i].get()] = i;

  std::string out = "digraph textgrad {\n  node [shape=box];\n";
  for (size_t i = 0; i < nodes.size(); ++i)
    out += fmt::format("  n{} [label=\"{}\"];\n", i, label_of(*nodes[i], options));
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const NodePtr& pred : nodes[i]->predecessors)
      out += fmt::format("  n{} -> n{};\n", index.at(pred.get()), i);
  }
  return out + "}\n";
}

}  // namespace tg
