#include "autograd/llm_function.h"

#include <algorithm>

#include "textgrad/errors.h"
#include "textgrad/prompts.h"
#include "util/text.h"

namespace tg::detail {
namespace {

class LlmFunction : public Function {
 public:
  explicit LlmFunction(std::string name) : name_(std::move(name)) {}

  std::string name() const override { return name_; }
  bool backward_never_blocks() const override { return true; }

  void record_sent(std::string system, std::vector<ContentPart> content) {
    std::lock_guard lock(mu_);
    system_ = std::move(system);
    content_ = std::move(content);
  }

  std::vector<EdgeJob> backward(Node& output, const BackwardContext& context) override {
    const std::string output_value = output.value();  // rethrows a failed forward call
    std::string system;
    std::vector<ContentPart> content;
    {
      std::lock_guard lock(mu_);
      system = system_;
      content = content_;
    }
    const bool multimodal = std::any_of(content.begin(), content.end(),
                                        [](const ContentPart& p) { return p.is_image(); });
    const std::string conversation =
        multimodal ? multimodal_conversation(context.prompts, system, output_value)
                   : text_conversation(context.prompts, system, content, output_value);
    return feedback_jobs(output,
                         {conversation, multimodal ? content : std::vector<ContentPart>{},
                          "backward_base", "backward_chain"},
                         context);
  }

 private:
  static std::string text_conversation(const Prompts& prompts, const std::string& system,
                                       const std::vector<ContentPart>& content,
                                       const std::string& output) {
    std::vector<std::string> texts;
    for (const ContentPart& part : content) texts.push_back(part.text);
    const std::string input = util::join(texts, "\n\n");
    // Note [No fake system prompt]: a call sent without a system prompt is shown without
    // one, rather than as a literal "None" (docs/reference-defects.md#no-none-system-prompt).
    if (system.empty()) {
      return prompts.render("llm_conversation_no_system", {{"input", input}, {"output", output}});
    }
    return prompts.render("llm_conversation",
                          {{"system_prompt", system}, {"input", input}, {"output", output}});
  }

  static std::string multimodal_conversation(const Prompts& prompts, const std::string& system,
                                             const std::string& output) {
    const std::string section =
        system.empty() ? std::string()
                       : prompts.render("multimodal_system_section", {{"system_prompt", system}});
    return prompts.render("multimodal_conversation",
                          {{"system_section", section}, {"output", output}});
  }

  const std::string name_;
  std::mutex mu_;
  std::string system_;
  std::vector<ContentPart> content_;
};

}  // namespace

std::vector<NodePtr> distinct_nodes(const std::vector<Variable>& variables) {
  std::vector<NodePtr> nodes;
  for (const Variable& v : variables) {
    if (!v.defined()) continue;
    const NodePtr& node = v.node();
    if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) nodes.push_back(node);
  }
  return nodes;
}

Variable start_llm_call(const EnginePtr& engine, const Variable& system_prompt,
                        const std::vector<Variable>& inputs, ContentBuilder build_content,
                        std::string response_role, Phase phase, std::string op_name,
                        std::optional<SamplingParams> sampling) {
  if (!engine) throw InvalidArgument(op_name + " needs an engine");
  std::vector<Variable> all{system_prompt};
  all.insert(all.end(), inputs.begin(), inputs.end());
  std::vector<NodePtr> predecessors = distinct_nodes(all);
  NodePtr output = make_pending_node(std::move(response_role), predecessors);
  auto function = std::make_shared<LlmFunction>(std::move(op_name));
  output->grad_fn = function;

  NodePtr system_node = system_prompt.defined() ? system_prompt.node() : nullptr;
  std::weak_ptr<Node> weak_output = output;
  when_all_settled(predecessors, [=] {
    NodePtr out = weak_output.lock();
    if (!out) return;  // nobody holds the output any more: skip the call
    if (auto error = first_error(predecessors)) return out->fail(error);
    std::vector<ContentPart> content;
    std::string system;
    try {
      content = build_content();
      if (system_node) system = system_node->value();
    } catch (...) {
      return out->fail(std::current_exception());
    }
    function->record_sent(system, content);
    Request request;
    request.system_prompt = std::move(system);
    request.content = std::move(content);
    request.phase = phase;
    request.sampling = sampling;
    engine->submit(std::move(request), [out](Outcome outcome) {
      if (outcome.ok()) {
        out->settle(std::move(outcome.response.text));
      } else {
        out->fail(outcome.error);
      }
    });
  });
  return Variable(output);
}

}  // namespace tg::detail
