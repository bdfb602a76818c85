// The built-in template table behind tg::Prompts.
#pragma once

#include <string>
#include <vector>

namespace tg::prompts {

struct Template {
  const char* name;
  const char* purpose;
  std::vector<std::string> placeholders;
  const char* text;
};

const std::vector<Template>& builtin_templates();
// Code optimization's templates (src/prompts/code_templates.cpp).
const std::vector<Template>& code_templates();
// Every table above, in that order: what tg::Prompts serves.
const std::vector<Template>& all_templates();

}  // namespace tg::prompts
