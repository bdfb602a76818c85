#include "textgrad/prompts.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "prompts/templates.h"
#include "textgrad/errors.h"
#include "util/text.h"

namespace tg {
namespace {

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

// Calls on_text for literal runs and on_placeholder for each `{name}`.
template <typename OnText, typename OnPlaceholder>
void scan_template(std::string_view text, OnText on_text, OnPlaceholder on_placeholder) {
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      on_text(text.substr(i, 1));
      i += 2;
      continue;
    }
    if (c == '{') {
      size_t end = i + 1;
      while (end < text.size() && is_name_char(text[end])) ++end;
      if (end < text.size() && text[end] == '}' && end > i + 1) {
        on_placeholder(text.substr(i + 1, end - i - 1));
        i = end + 1;
        continue;
      }
    }
    const size_t next = util::find_either(text, i + 1, '{', '}');
    on_text(text.substr(i, next - i));
    i = next;
  }
}

const prompts::Template* find_builtin(std::string_view name) {
  for (const prompts::Template& t : prompts::all_templates()) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

}  // namespace

namespace prompts {
const std::vector<Template>& all_templates() {
  static const std::vector<Template> all = [] {
    std::vector<Template> out = builtin_templates();
    const auto& code = code_templates();
    out.insert(out.end(), code.begin(), code.end());
    return out;
  }();
  return all;
}
}  // namespace prompts

std::string render_template(std::string_view text, const Prompts::Values& values) {
  std::string out;
  out.reserve(text.size() * 2);
  scan_template(
      text, [&](std::string_view literal) { out.append(literal); },
      [&](std::string_view name) {
        auto it = std::find_if(values.begin(), values.end(),
                               [&](const auto& kv) { return kv.first == name; });
        if (it == values.end()) {
          throw InvalidArgument(fmt::format(
              "prompt template uses the placeholder {{{}}} but no value was given for it", name));
        }
        out.append(it->second);
      });
  return out;
}

std::vector<std::string> template_placeholders(std::string_view text) {
  std::vector<std::string> names;
  scan_template(
      text, [](std::string_view) {},
      [&](std::string_view name) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
      });
  return names;
}

Prompts::Prompts() {
  for (const prompts::Template& t : prompts::all_templates()) templates_[t.name] = t.text;
}

const Prompts& default_prompts() {
  static const Prompts prompts;
  return prompts;
}

const std::vector<TemplateInfo>& Prompts::catalogue() {
  static const std::vector<TemplateInfo> infos = [] {
    std::vector<TemplateInfo> out;
    for (const prompts::Template& t : prompts::all_templates()) {
      out.push_back({t.name, t.purpose, t.placeholders});
    }
    return out;
  }();
  return infos;
}

const std::string& Prompts::get(std::string_view name) const {
  auto it = templates_.find(name);
  if (it == templates_.end()) {
    throw InvalidArgument(
        fmt::format("unknown prompt template '{}'; see Prompts::catalogue()", name));
  }
  return it->second;
}

void Prompts::set(std::string_view name, std::string text) {
  const prompts::Template* builtin = find_builtin(name);
  if (builtin == nullptr) {
    throw InvalidArgument(
        fmt::format("unknown prompt template '{}'; see Prompts::catalogue()", name));
  }
  for (const std::string& used : template_placeholders(text)) {
    const auto& allowed = builtin->placeholders;
    if (std::find(allowed.begin(), allowed.end(), used) == allowed.end()) {
      throw InvalidArgument(fmt::format(
          "prompt template '{}' cannot use {{{}}}: its placeholders are {{{}}}; write a literal "
          "brace as {{{{ or }}}}",
          name, used, fmt::join(allowed, "}, {")));
    }
  }
  templates_[std::string(name)] = std::move(text);
}

std::string Prompts::render(std::string_view name, const Values& values) const {
  return render_template(get(name), values);
}

}  // namespace tg
