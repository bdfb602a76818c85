// Every prompt template textgrad-cpp sends, in one place.
//
// Each template has a name, a purpose and a documented list of placeholders written as
// `{name}`. Rendering is single-pass: values are inserted verbatim and never re-scanned, so
// user text containing braces is safe. `{{` and `}}` render as literal braces.
//
// A Prompts object is a value: copy the defaults, override what you need with set(), and hand
// it to backward() (BackwardOptions::prompts), to an optimizer, or to a loss.
//
// Thread safety: const methods may be called from many threads at once; set() may not race
// with anything else on the same object.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tg {

struct TemplateInfo {
  std::string name;
  std::string purpose;
  std::vector<std::string> placeholders;
};

class Prompts {
 public:
  using Values = std::vector<std::pair<std::string_view, std::string_view>>;

  // The built-in templates.
  Prompts();

  // The catalogue of template names, purposes and placeholders.
  static const std::vector<TemplateInfo>& catalogue();

  const std::string& get(std::string_view name) const;

  // Replaces a template. Throws InvalidArgument for an unknown name or for a placeholder the
  // template does not document (the message lists the allowed ones).
  void set(std::string_view name, std::string text);

  // Renders a template with the given values. Throws InvalidArgument if the template uses a
  // placeholder that has no value.
  std::string render(std::string_view name, const Values& values) const;

 private:
  std::map<std::string, std::string, std::less<>> templates_;
};

// The built-in templates, shared (for code paths that take no Prompts, e.g. the role of a
// sum's output).
const Prompts& default_prompts();

// Renders any template text (same rules as Prompts::render).
std::string render_template(std::string_view text, const Prompts::Values& values);

// The placeholders a template text uses, in order of first use.
std::vector<std::string> template_placeholders(std::string_view text);

}  // namespace tg
