#include <gtest/gtest.h>

#include "textgrad/errors.h"
#include "textgrad/prompts.h"

namespace tg {
namespace {

TEST(Prompts, RenderIsSinglePassAndBraceSafe) {
  EXPECT_EQ(render_template("a {x} b {{literal}}", {{"x", "{y} and {x}"}}),
            "a {y} and {x} b {literal}");
  EXPECT_EQ(render_template("{unterminated", {}), "{unterminated");
  EXPECT_THROW(render_template("{missing}", {}), InvalidArgument);
}

TEST(Prompts, EveryBuiltinTemplateUsesOnlyItsDocumentedPlaceholders) {
  Prompts prompts;
  for (const TemplateInfo& info : Prompts::catalogue()) {
    for (const std::string& used : template_placeholders(prompts.get(info.name))) {
      EXPECT_NE(std::find(info.placeholders.begin(), info.placeholders.end(), used),
                info.placeholders.end())
          << info.name << " uses {" << used << "}";
    }
    for (const std::string& documented : info.placeholders) {
      auto used = template_placeholders(prompts.get(info.name));
      EXPECT_NE(std::find(used.begin(), used.end(), documented), used.end())
          << info.name << " documents {" << documented << "} but does not use it";
    }
    EXPECT_FALSE(info.purpose.empty());
  }
}

TEST(Prompts, OverridesAreValidated) {
  Prompts prompts;
  prompts.set("update_format", "Wrap it: {start_tag}...{end_tag}");
  EXPECT_EQ(prompts.render("update_format", {{"start_tag", "<A>"}, {"end_tag", "</A>"}}),
            "Wrap it: <A>...</A>");
  EXPECT_THROW(prompts.set("update_format", "{role}"), InvalidArgument);
  EXPECT_THROW(prompts.set("no_such_template", "x"), InvalidArgument);
  EXPECT_THROW(prompts.get("no_such_template"), InvalidArgument);
  Prompts defaults;
  EXPECT_NE(defaults.get("update_format"), prompts.get("update_format"));
}

TEST(Prompts, OptimizerPromptsNameTheConfiguredTags) {
  Prompts prompts;
  std::string system =
      prompts.render("optimizer_system", {{"start_tag", "<X>"}, {"end_tag", "</X>"}});
  EXPECT_NE(system.find("<X>"), std::string::npos);
  EXPECT_EQ(system.find("IMPROVED_VARIABLE"), std::string::npos);
}

}  // namespace
}  // namespace tg
