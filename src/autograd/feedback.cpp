// Feedback requests for the inputs of one node: per edge (TextGrad) or joint (semantic
// backpropagation), within the configured budgets.
//
// Note [Joint feedback]
// In BackwardMode::kJoint a node with two or more inputs that require grad gets one call that
// shows the conversation, every such input (numbered, with role and value), the output and
// the downstream feedback, and asks for one <FEEDBACK_k>...</FEEDBACK_k> section per input.
// Sections are found case-insensitively, tolerating spaces inside the tags, and a section
// whose closing tag is missing runs to the next section or the end. If some sections are
// missing, one repair request (the first request plus the answer quoted and the missing
// numbers) asks again; a section still missing gives its input an empty feedback whose note
// says why. A node with a single such input sends exactly the per-edge request, so the two
// modes differ only where a node has several trainable inputs.
#include <regex>

#include <fmt/format.h>

#include "autograd/llm_function.h"
#include "textgrad/budget.h"
#include "textgrad/prompts.h"
#include "util/text.h"

namespace tg::detail {
namespace {

// What one feedback request is about; the values that may be shortened are kept apart.
struct Draft {
  const char* template_name;
  std::string role;  // of the variable (per-edge requests)
  std::string conversation;
  std::string response_role;
  std::string feedback;
  std::vector<std::string> values;  // one per variable shown
  std::vector<std::string> roles;   // one per variable shown (joint requests)
  std::vector<std::string> past_values;
};

std::string render_variables(const Prompts& prompts, const Draft& d) {
  std::vector<std::string> blocks;
  for (size_t i = 0; i < d.values.size(); ++i) {
    blocks.push_back(prompts.render(
        "joint_variable",
        {{"index", std::to_string(i + 1)}, {"role", d.roles[i]}, {"value", d.values[i]}}));
  }
  return util::join(blocks, "\n");
}

std::string render_sections(const Prompts& prompts, size_t count) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < count; ++i) {
    lines.push_back(prompts.render("joint_section", {{"index", std::to_string(i + 1)}}));
  }
  return util::join(lines, "\n");
}

std::string render_user(const Prompts& prompts, const Draft& d) {
  std::string text;
  if (d.roles.empty()) {
    text = prompts.render(d.template_name, {{"role", d.role},
                                            {"conversation", d.conversation},
                                            {"response_role", d.response_role},
                                            {"feedback", d.feedback},
                                            {"value", d.values.front()}});
  } else {
    text =
        prompts.render(d.template_name, {{"conversation", d.conversation},
                                         {"response_role", d.response_role},
                                         {"feedback", d.feedback},
                                         {"variables", render_variables(prompts, d)},
                                         {"sections", render_sections(prompts, d.values.size())}});
  }
  if (!d.past_values.empty()) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < d.past_values.size(); ++i) {
      lines.push_back(prompts.render(
          "past_value_line",
          {{"role", d.role}, {"step", std::to_string(i + 1)}, {"value", d.past_values[i]}}));
    }
    text +=
        prompts.render("feedback_past_iterations", {{"past_values", util::join(lines, "\n\n")}});
  }
  return text;
}

// Applies FeedbackBudget to the shortenable parts of `d` (see Note [Shortening]).
void fit_budget(const BackwardContext& context, const std::string& system, Draft& d,
                std::vector<std::string>& notes) {
  const FeedbackBudget& budget = context.options.budget;
  if (budget.conversation_tokens > 0 &&
      d.conversation.size() > chars_for_tokens(budget.conversation_tokens)) {
    const size_t before = d.conversation.size();
    d.conversation = fit_text(d.conversation, chars_for_tokens(budget.conversation_tokens));
    notes.push_back(
        fmt::format("conversation shortened from {} to {} characters to fit its {}-token budget",
                    before, d.conversation.size(), budget.conversation_tokens));
  }
  if (budget.request_tokens <= 0) return;
  const size_t limit = chars_for_tokens(budget.request_tokens);
  const size_t before = system.size() + render_user(context.prompts, d).size();
  // Rendering may repeat a value, so shrink until the whole request fits (two rounds suffice
  // for the built-in templates; the bound keeps an odd override from looping).
  for (int round = 0; round < 4; ++round) {
    const size_t total = system.size() + render_user(context.prompts, d).size();
    if (total <= limit) break;
    std::vector<std::string> parts{d.conversation, d.feedback};
    parts.insert(parts.end(), d.values.begin(), d.values.end());
    parts.insert(parts.end(), d.past_values.begin(), d.past_values.end());
    size_t shortenable = 0;
    for (const auto& p : parts) shortenable += p.size();
    const size_t excess = total - limit;
    parts = fit_texts(std::move(parts), shortenable > excess ? shortenable - excess : 0);
    d.conversation = std::move(parts[0]);
    d.feedback = std::move(parts[1]);
    for (size_t i = 0; i < d.values.size(); ++i) d.values[i] = std::move(parts[2 + i]);
    for (size_t i = 0; i < d.past_values.size(); ++i)
      d.past_values[i] = std::move(parts[2 + d.values.size() + i]);
  }
  const size_t after = system.size() + render_user(context.prompts, d).size();
  if (after == before) return;
  notes.push_back(fmt::format(
      "feedback request shortened from {} to {} characters to fit its {}-token budget{}", before,
      after, budget.request_tokens,
      after > limit ? " (still over: its fixed text alone exceeds the budget)" : ""));
}

Request make_request(const BackwardContext& context, const std::vector<ContentPart>& items,
                     std::string user) {
  Request call;
  call.system_prompt = context.prompts.get("backward_system");
  call.content = items;
  call.content.push_back(ContentPart::Text(std::move(user)));
  call.phase = Phase::kBackward;
  call.sampling = context.options.sampling;
  return call;
}

// The <FEEDBACK_k> sections of a joint answer; nullopt where a section is missing.
std::vector<std::optional<std::string>> parse_sections(const std::string& answer, size_t count) {
  static const std::regex open(R"(<\s*feedback[ _-]?(\d+)\s*>)", std::regex::icase);
  struct Found {
    size_t index;
    size_t content_begin;
    size_t tag_begin;
  };
  std::vector<Found> found;
  for (auto it = std::sregex_iterator(answer.begin(), answer.end(), open);
       it != std::sregex_iterator(); ++it) {
    found.push_back({std::stoul((*it)[1].str()), static_cast<size_t>(it->position() + it->length()),
                     static_cast<size_t>(it->position())});
  }
  std::vector<std::optional<std::string>> sections(count);
  for (size_t f = 0; f < found.size(); ++f) {
    const size_t k = found[f].index;
    if (k < 1 || k > count || sections[k - 1]) continue;  // unknown number or a repeat
    const size_t end = f + 1 < found.size() ? found[f + 1].tag_begin : answer.size();
    std::string body = answer.substr(found[f].content_begin, end - found[f].content_begin);
    const std::regex close(fmt::format(R"(<\s*/\s*feedback[ _-]?{}\s*>)", k), std::regex::icase);
    std::smatch m;
    if (std::regex_search(body, m, close)) body = body.substr(0, m.position());
    sections[k - 1] = util::trim(body);
  }
  return sections;
}

struct Target {
  NodePtr node;
  std::string role;
  std::string value;
  std::vector<std::string> past_values;
};

// A per-edge feedback call between sending it and turning its answer into feedback.
struct PerEdgeCall {
  Target target;
  std::vector<std::string> notes;
  Request call;
};

std::vector<std::string> past_values_of(const BackwardContext& context, const NodePtr& node) {
  if (!context.options.past_values) return {};
  return context.options.past_values(Variable(node));
}

Gradient make_gradient(const BackwardContext& context, std::string text, const Target& target,
                       const FeedbackRequest& request, const std::string& response_role,
                       const std::vector<std::uint64_t>& groups, std::uint64_t source) {
  Gradient gradient;
  gradient.text = std::move(text);
  gradient.role = context.prompts.render("feedback_role", {{"role", target.role}});
  gradient.contexts.push_back({request.conversation, response_role, target.role, request.items});
  gradient.reduce_groups = groups;
  gradient.sources = {source};
  return gradient;
}

}  // namespace

std::vector<EdgeJob> feedback_jobs(const Node& output, FeedbackRequest request,
                                   const BackwardContext& context) {
  const std::string feedback = feedback_text(output.gradients());
  const std::string response_role = output.role();
  const std::vector<std::uint64_t> groups = output.reduce_groups();
  const std::uint64_t source = output.id;
  const bool chain = !feedback.empty();
  std::vector<NodePtr> targets;
  for (const NodePtr& pred : output.predecessors) {
    if (pred->requires_grad() && !pred->image) targets.push_back(pred);
  }
  // Values are read when the job runs (on a worker), as the per-edge calls always did.
  auto read_target = [&context](const NodePtr& node) {
    return Target{node, node->role(), util::short_value(node->value()),
                  past_values_of(context, node)};
  };

  if (context.options.mode == BackwardMode::kJoint && targets.size() >= 2) {
    EdgeJob job;
    job.targets = targets;
    job.calls_llm = true;
    job.run = [&context, targets, request, feedback, response_role, groups, source, chain,
               read_target]() {
      std::vector<Target> read;
      Draft d{chain ? "joint_backward_chain" : "joint_backward_base", "", request.conversation,
              response_role, feedback};
      for (const NodePtr& node : targets) {
        read.push_back(read_target(node));
        d.values.push_back(read.back().value);
        d.roles.push_back(read.back().role);
      }
      std::vector<std::string> notes;
      const std::string system = context.prompts.get("backward_system");
      fit_budget(context, system, d, notes);
      Request call = make_request(context, request.items, render_user(context.prompts, d));
      std::string answer = context.engine.generate(call).text;
      std::vector<std::optional<std::string>> sections = parse_sections(answer, targets.size());
      std::vector<std::string> missing;
      for (size_t i = 0; i < sections.size(); ++i) {
        if (!sections[i]) missing.push_back(std::to_string(i + 1));
      }
      if (!missing.empty()) {
        call.content.push_back(ContentPart::Text(context.prompts.render(
            "joint_repair", {{"answer", answer}, {"missing", util::join(missing, ", ")}})));
        answer = context.engine.generate(call).text;
        std::vector<std::optional<std::string>> again = parse_sections(answer, targets.size());
        for (size_t i = 0; i < sections.size(); ++i) {
          if (!sections[i]) sections[i] = again[i];
        }
      }
      std::vector<std::optional<Gradient>> out;
      for (size_t i = 0; i < targets.size(); ++i) {
        Gradient g = make_gradient(context, sections[i].value_or(""), read[i], request,
                                   response_role, groups, source);
        g.notes = notes;
        if (!sections[i]) {
          g.notes.push_back(fmt::format(
              "the joint feedback answer had no <FEEDBACK_{}> section, even after one repair "
              "request: no feedback for this input",
              i + 1));
        }
        out.push_back(std::move(g));
      }
      return out;
    };
    return {std::move(job)};
  }

  std::vector<EdgeJob> jobs;
  for (const NodePtr& pred : targets) {
    // The request for `pred`, and the feedback its answer becomes.
    auto prepare = [&context, pred, request, feedback, response_role, chain, read_target] {
      PerEdgeCall c{read_target(pred), {}, {}};
      Draft d{chain ? request.chain_template : request.base_template,
              c.target.role,
              request.conversation,
              response_role,
              feedback,
              {c.target.value},
              {},
              c.target.past_values};
      fit_budget(context, context.prompts.get("backward_system"), d, c.notes);
      c.call = make_request(context, request.items, render_user(context.prompts, d));
      return c;
    };
    auto to_gradient = [&context, request, response_role, groups, source](PerEdgeCall& c,
                                                                          std::string answer) {
      Gradient gradient = make_gradient(context, std::move(answer), c.target, request,
                                        response_role, groups, source);
      gradient.notes = std::move(c.notes);
      return gradient;
    };
    EdgeJob job = single_job(
        pred,
        [&context, prepare, to_gradient]() -> std::optional<Gradient> {
          PerEdgeCall c = prepare();
          std::string answer = context.engine.generate(std::move(c.call)).text;
          return to_gradient(c, std::move(answer));
        },
        /*calls_llm=*/true);
    job.start = [&context, prepare, to_gradient](EdgeJob::Done done) {
      auto c = std::make_shared<PerEdgeCall>(prepare());
      Request call = std::move(c->call);
      context.engine.submit(
          std::move(call), [c, to_gradient, done = std::move(done)](Outcome outcome) {
            if (outcome.error) return done({}, outcome.error);
            EdgeJob::Results results;
            try {
              results.push_back(to_gradient(*c, std::move(outcome.response.text)));
            } catch (...) {
              return done({}, std::current_exception());
            }
            done(std::move(results), nullptr);
          });
    };
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace tg::detail
