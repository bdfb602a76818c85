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

// Escapes text for a quoted DOT label. Line breaks become \l so multi-line values are
// left-aligned, which reads better for prompts than Graphviz's default centering.
void append_escaped(std::string& out, std::string_view text) {
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
  out.append(text.substr(plain));
}

// One line of a label: `prefix` and `text`, the text cut after `max_chars` code points (at a
// code point boundary, so the label stays valid UTF-8) and then marked " …"; 0 or less keeps
// all of it. Written straight into the label: a step's graph is drawn every training step.
void append_line(std::string& out, std::string_view prefix, std::string_view text,
                 int max_chars = 0) {
  append_escaped(out, prefix);
  size_t end = text.size();
  if (max_chars > 0 && text.size() > static_cast<size_t>(max_chars)) {  // else it all fits
    int chars = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if (is_utf8_continuation(text[i])) continue;
      if (chars == max_chars) {
        end = i;
        break;
      }
      ++chars;
    }
  }
  append_escaped(out, text.substr(0, end));
  if (end < text.size()) out += " …";
  out += "\\l";
}

void append_value_line(std::string& out, const detail::Node& node, int max_chars) {
  if (node.image) {
    const std::string image =
        fmt::format("[image: {}, {} bytes]", node.image->media_type, node.image->data.size());
    return append_line(out, "value: ", image);
  }
  if (!node.ready()) return append_line(out, "value: ", "[pending]");
  if (auto error = node.error()) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return append_line(out, "value: ", fmt::format("[failed: {}]", e.what()), max_chars);
    } catch (...) {
      return append_line(out, "value: ", "[failed]");
    }
  }
  append_line(out, "value: ", node.value(), max_chars);
}

std::string op_name(const detail::Node& node) {
  if (node.grad_fn) return node.grad_fn->name();
  return node.image ? "image" : "leaf";
}

void append_label(std::string& out, const detail::Node& node, const DotOptions& options) {
  append_line(out, "", node.role());
  append_line(out, "op: ", op_name(node));
  append_line(out, "requires_grad: ", node.requires_grad() ? "true" : "false");
  append_value_line(out, node, options.max_value_chars);
  if (options.show_gradients) {
    node.for_each_gradient([&](const Gradient& g) {
      append_line(out, "gradient: ", g.text, options.max_value_chars);
    });
  }
}

}  // namespace

std::string to_dot(const Variable& root, const DotOptions& options) {
  const std::vector<NodePtr> nodes = reachable_nodes(root.node());
  // DFS numbers rather than node ids, so the same graph gives the same text in every process.
  std::unordered_map<const detail::Node*, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i].get()] = i;

  std::string out = "digraph textgrad {\n  node [shape=box];\n";
  // Appended piece by piece: format_to() parsed its format string for every node and edge,
  // and a step's graph is drawn every training step.
  auto append_node = [&out](size_t i) {
    const fmt::format_int number(i);
    out.append("n").append(number.data(), number.size());
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    out += "  ";
    append_node(i);
    out += " [label=\"";
    append_label(out, *nodes[i], options);
    out += "\"];\n";
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const NodePtr& pred : nodes[i]->predecessors) {
      out += "  ";
      append_node(index.at(pred.get()));
      out += " -> ";
      append_node(i);
      out += ";\n";
    }
  }
  return out + "}\n";
}

}  // namespace tg
