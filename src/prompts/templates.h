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

}  // namespace tg::prompts
