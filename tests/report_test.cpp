#include "report.h"

#include <gtest/gtest.h>

#include <string>

namespace tg::cli {
namespace {

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

// The value of the points attribute of the polyline with the given class.
std::string polyline_points(const std::string& html, const std::string& css_class) {
  const std::string open = "<polyline class=\"" + css_class + "\" points=\"";
  const size_t start = html.find(open);
  if (start == std::string::npos) return "<missing>";
  const size_t from = start + open.size();
  return html.substr(from, html.find('"', from) - from);
}

RunSummary sample_summary() {
  RunSummary s;
  s.title = "Prompt optimization: object_counting";
  s.task = "object_counting";
  s.engine = "openai/gpt-4o-mini";
  s.backward_engine = "openai/gpt-4o";
  s.initial_value = "You are a helpful assistant.";
  s.final_value = "You are a careful assistant. Count step by step.";
  s.wall_seconds = 125;
  s.started_at = "2024-05-01T12:00:00Z";
  s.steps = {
      {0, 0, "p0", 0.5, 0.456, false, "initial"},
      {1, 1, "p1", 0.625, std::nullopt, true, "kept | better"},
      {2, 1, "p2", std::nullopt, 0.789, false, ""},
  };
  s.phases = {
      {"forward", 10, 2, 1000, 200, 0.012345, 1234},
      {"backward", 5, 0, 500, 100, 0.5, 500},
  };
  return s;
}

TEST(WordDiffTest, IdenticalTextsHaveNoMarkers) {
  EXPECT_EQ(word_diff_markdown("a b c", "a b c"), "a b c");
}

TEST(WordDiffTest, SubstitutionShowsRemovedThenAdded) {
  EXPECT_EQ(word_diff_markdown("the cat sat", "the dog sat"), "the [-cat-] {+dog+} sat");
}

TEST(WordDiffTest, GroupsConsecutiveWordsIntoOneHunk) {
  EXPECT_EQ(word_diff_markdown("a b c d", "a x y d"), "a [-b c-] {+x y+} d");
}

TEST(WordDiffTest, SeveralHunks) {
  EXPECT_EQ(word_diff_markdown("a b c d e", "a x c d y"), "a [-b-] {+x+} c d [-e-] {+y+}");
}

TEST(WordDiffTest, PureInsertionAndDeletion) {
  EXPECT_EQ(word_diff_markdown("a c", "a b c"), "a {+b+} c");
  EXPECT_EQ(word_diff_markdown("a b c", "a c"), "a [-b-] c");
  EXPECT_EQ(word_diff_markdown("b c", "a b c"), "{+a+} b c");
  EXPECT_EQ(word_diff_markdown("a b", "a b c"), "a b {+c+}");
}

TEST(WordDiffTest, EmptySides) {
  EXPECT_EQ(word_diff_markdown("", ""), "");
  EXPECT_EQ(word_diff_markdown("", "hello world"), "{+hello world+}");
  EXPECT_EQ(word_diff_markdown("hello world", "  "), "[-hello world-]");
}

TEST(WordDiffTest, WhitespaceOnlyChangesAreIgnored) {
  EXPECT_EQ(word_diff_markdown("a  b\tc", " a b c "), "a b c");
}

TEST(WordDiffTest, KeepsLineAndParagraphBreaks) {
  EXPECT_EQ(word_diff_markdown("line one\nline two", "line one\nline 2"),
            "line one\nline [-two-] {+2+}");
  EXPECT_EQ(word_diff_markdown("a\n\n\n\nb", "a\n\n\n\nb"), "a\n\nb");
  EXPECT_EQ(word_diff_markdown("intro\n\nold text", "intro\n\nnew text"),
            "intro\n\n[-old-] {+new+} text");
  EXPECT_EQ(word_diff_markdown("intro old", "intro\nnew"), "intro\n[-old-] {+new+}");
}

TEST(WordDiffTest, RepeatedWordsAreDeterministic) {
  EXPECT_EQ(word_diff_markdown("a b a", "a"), "a [-b a-]");
  EXPECT_EQ(word_diff_markdown("x a y", "a x y"), "[-x-] a {+x+} y");
  EXPECT_EQ(word_diff_markdown("x a y", "a x y"), word_diff_markdown("x a y", "a x y"));
}

TEST(WordDiffTest, HtmlUsesDelInsAndEscapes) {
  EXPECT_EQ(word_diff_html("<b> & \"c\"", "<b> & 'd'"),
            "&lt;b&gt; &amp; <del>&quot;c&quot;</del> <ins>&#39;d&#39;</ins>");
}

TEST(WordDiffTest, HugeInputsFallBackToRemoveAllAddAll) {
  std::string before = "same";
  std::string after = "same";
  for (int i = 0; i < 5001; ++i) {
    before += " a" + std::to_string(i);
    after += " b" + std::to_string(i);
  }
  before += " end";
  after += " end";
  const std::string diff = word_diff_markdown(before, after);
  EXPECT_EQ(diff.rfind("same [-a0 a1 ", 0), 0u) << diff.substr(0, 40);
  EXPECT_NE(diff.find(" a5000-] {+b0 b1 "), std::string::npos);
  EXPECT_EQ(diff.substr(diff.size() - 12), " b5000+} end");
  EXPECT_EQ(count_of(diff, "[-"), 1u);
  EXPECT_EQ(count_of(diff, "{+"), 1u);
}

TEST(WordDiffTest, LargeCommonEndsStillDiffExactly) {
  std::string common;
  for (int i = 0; i < 20000; ++i) common += "w" + std::to_string(i) + " ";
  const std::string diff = word_diff_markdown(common + "old tail", common + "new tail");
  EXPECT_EQ(diff, common + "[-old-] {+new+} tail");
}

TEST(MarkdownReportTest, HeaderEnginesAndWallTime) {
  const std::string md = render_markdown(sample_summary());
  EXPECT_EQ(md.rfind("# Prompt optimization: object_counting\n", 0), 0u);
  EXPECT_NE(md.find("- Engine: openai/gpt-4o-mini\n"), std::string::npos);
  EXPECT_NE(md.find("- Backward engine: openai/gpt-4o\n"), std::string::npos);
  EXPECT_NE(md.find("- Wall time: 2 min 05 s\n"), std::string::npos);
  EXPECT_EQ(md.find("stopped by budget"), std::string::npos);
}

TEST(MarkdownReportTest, StepRowsFormatPercentagesAndMissingValues) {
  const std::string md = render_markdown(sample_summary());
  EXPECT_NE(md.find("| Step | Epoch | Validation accuracy | Test accuracy | Reverted | Note | "
                    "Calls | Tokens | Cost |"),
            std::string::npos);
  EXPECT_NE(md.find("| 0 | 0 | 50.0% | 45.6% | no | initial | 0 | 0 | $0.0000 |\n"),
            std::string::npos);
  EXPECT_NE(md.find("| 1 | 1 | 62.5% | – | yes | kept \\| better | 0 | 0 | $0.0000 |\n"),
            std::string::npos);
  EXPECT_NE(md.find("| 2 | 1 | – | 78.9% | no |  | 0 | 0 | $0.0000 |\n"), std::string::npos);
}

TEST(MarkdownReportTest, TestAccuracySummary) {
  const std::string md = render_markdown(sample_summary());
  EXPECT_NE(md.find("- Initial: 45.6%\n"), std::string::npos);
  EXPECT_NE(md.find("- Final: 78.9%\n"), std::string::npos);
  EXPECT_NE(md.find("- Change: +33.3 pp\n"), std::string::npos);
}

TEST(MarkdownReportTest, PhaseTableWithTotal) {
  const std::string md = render_markdown(sample_summary());
  EXPECT_NE(md.find("| forward | 10 | 2 | 1000 | 200 | $0.0123 | 123.4 |\n"), std::string::npos);
  EXPECT_NE(md.find("| backward | 5 | 0 | 500 | 100 | $0.5000 | 100.0 |\n"), std::string::npos);
  EXPECT_NE(
      md.find("| **total** | **15** | **2** | **1500** | **300** | **$0.5123** | **115.6** |\n"),
      std::string::npos);
}

TEST(MarkdownReportTest, FinalValueAndDiff) {
  const std::string md = render_markdown(sample_summary());
  EXPECT_NE(md.find("## Final prompt\n\n```text\nYou are a careful assistant. Count step by "
                    "step.\n```\n"),
            std::string::npos);
  EXPECT_NE(
      md.find("```text\nYou are a [-helpful-] {+careful+} assistant. {+Count step by step.+}\n"
              "```\n"),
      std::string::npos);
}

TEST(MarkdownReportTest, FenceOutlastsBackticksInTheValue) {
  RunSummary s = sample_summary();
  s.final_value = "use ```code``` here";
  const std::string md = render_markdown(s);
  EXPECT_NE(md.find("````text\nuse ```code``` here\n````\n"), std::string::npos);
}

TEST(MarkdownReportTest, StoppedByBudget) {
  RunSummary s = sample_summary();
  s.stopped_by_budget = true;
  EXPECT_NE(render_markdown(s).find("stopped by budget"), std::string::npos);
  EXPECT_NE(render_html(s).find("stopped by budget"), std::string::npos);
}

TEST(MarkdownReportTest, ShortWallTimeAndMissingAccuracies) {
  RunSummary s = sample_summary();
  s.wall_seconds = 12.34;
  for (StepRecord& step : s.steps) step.test_accuracy.reset();
  const std::string md = render_markdown(s);
  EXPECT_NE(md.find("- Wall time: 12.3 s\n"), std::string::npos);
  EXPECT_NE(md.find("- Initial: –\n"), std::string::npos);
  EXPECT_NE(md.find("- Change: –\n"), std::string::npos);
}

TEST(HtmlReportTest, EscapesLlmOutputEverywhere) {
  RunSummary s = sample_summary();
  const std::string evil = "Say <script>alert(1)</script> & \"quoted\" 'single'";
  s.title = evil;
  s.final_value = evil;
  s.steps[0].note = evil;
  s.phases[0].phase = evil;
  const std::string html = render_html(s);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("Say &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; "
                      "&#39;single&#39;"),
            std::string::npos);
  EXPECT_EQ(html.find("\"quoted\""), std::string::npos);
}

TEST(HtmlReportTest, SelfContained) {
  const std::string html = render_html(sample_summary());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST(HtmlReportTest, SameContentAsMarkdown) {
  const std::string html = render_html(sample_summary());
  EXPECT_NE(html.find("<td>50.0%</td><td>45.6%</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>62.5%</td><td>–</td><td>yes</td>"), std::string::npos);
  EXPECT_NE(html.find("+33.3 pp"), std::string::npos);
  EXPECT_NE(html.find("<td>$0.5123</td><td>115.6</td>"), std::string::npos);
  EXPECT_NE(html.find("<del>helpful</del> <ins>careful</ins> assistant. <ins>Count step"),
            std::string::npos);
  EXPECT_NE(html.find("openai/gpt-4o-mini"), std::string::npos);
}

TEST(HtmlReportTest, PlotHasOneLinePerSeriesAndSkipsMissingPoints) {
  const std::string html = render_html(sample_summary());
  EXPECT_EQ(count_of(html, "<svg"), 1u);
  EXPECT_EQ(count_of(html, "<polyline"), 2u);
  EXPECT_NE(html.find(">Validation</text>"), std::string::npos);
  EXPECT_NE(html.find(">Test</text>"), std::string::npos);
  // The y-axis fits the data (45.6% to 78.9%), in whole 10-point ticks.
  EXPECT_NE(html.find(">40%</text>"), std::string::npos);
  EXPECT_NE(html.find(">90%</text>"), std::string::npos);
  EXPECT_EQ(html.find(">0%</text>"), std::string::npos);
  EXPECT_EQ(html.find(">100%</text>"), std::string::npos);
  // Steps 0 and 1 have a validation accuracy, steps 0 and 2 a test accuracy.
  EXPECT_EQ(count_of(polyline_points(html, "val"), ","), 2u);
  EXPECT_EQ(count_of(polyline_points(html, "test"), ","), 2u);
  for (const char* label : {">0</text>", ">1</text>", ">2</text>"}) {
    EXPECT_NE(html.find(label), std::string::npos) << label;
  }
}

TEST(HtmlReportTest, NoStepsRendersWithoutCrashing) {
  RunSummary s;
  const std::string md = render_markdown(s);
  const std::string html = render_html(s);
  EXPECT_NE(md.find("No steps were recorded."), std::string::npos);
  EXPECT_NE(md.find("| **total** | **0** |"), std::string::npos);
  EXPECT_EQ(count_of(html, "<polyline"), 2u);
  EXPECT_EQ(polyline_points(html, "val"), "");
  EXPECT_EQ(html.find("nan"), std::string::npos);
  EXPECT_EQ(html.find("inf"), std::string::npos);
}

TEST(HtmlReportTest, SingleStepIsPlottedInTheMiddle) {
  RunSummary s;
  s.steps = {{0, 0, "p", 0.5, 1.0, false, ""}};
  const std::string html = render_html(s);
  EXPECT_EQ(count_of(html, "<polyline"), 2u);
  EXPECT_EQ(count_of(polyline_points(html, "val"), ","), 1u);
  EXPECT_EQ(count_of(html, "<circle class=\"val\"") + count_of(html, "<circle class=\"test\""), 2u);
  EXPECT_EQ(html.find("nan"), std::string::npos);
  EXPECT_EQ(html.find("inf"), std::string::npos);
  EXPECT_NE(render_markdown(s).find("- Change: +0.0 pp"), std::string::npos);
}

RunSummary gated_summary() {
  RunSummary s = sample_summary();
  ParameterRecord accepted;
  accepted.feedback = "Count <every> item.";
  accepted.proposed = "p1 counts";
  accepted.gate = {"validation", "accepted", 0.5, 0.625, {}};
  s.steps[1] = {1, 1, "p1 counts", 0.625, 0.5, false, ""};
  s.steps[1].parameters = {accepted};
  ParameterRecord reverted;
  reverted.feedback = "Be shorter.";
  reverted.proposed = "p2 short";
  reverted.gate = {"validation", "reverted", 0.625, 0.3, {}};
  s.steps[2] = {2, 1, "p1 counts", 0.625, 0.789, true, ""};
  s.steps[2].parameters = {reverted};
  s.step_costs[1] = {"step 1", 12, 2, 1000, 300, 0.25, 0, 0};
  s.failing = {{"file#7", "How many?", "Answer: 999", "4", 0, {}, {}}};
  return s;
}

TEST(HtmlReportTest, MarksAcceptedAndRevertedProposalsOnTheCurve) {
  const std::string html = render_html(gated_summary());
  EXPECT_EQ(count_of(html, "<circle class=\"accepted\" cx"), 2u);  // step 1 and the legend
  EXPECT_EQ(count_of(html, "<path class=\"rejected\""), 2u);       // step 2 and the legend
  EXPECT_NE(html.find("step 2: proposal reverted (30.0%)"), std::string::npos);
  // The rejected proposal's 30% widens the axis below the kept values.
  EXPECT_NE(html.find(">20%</text>"), std::string::npos);
}

TEST(HtmlReportTest, ExplainsEachStepAndListsFailingExamples) {
  const RunSummary s = gated_summary();
  const std::string html = render_html(s);
  EXPECT_NE(html.find("Step 2: <span class=\"decision\">reverted</span>"), std::string::npos);
  EXPECT_NE(html.find("Rejected proposal (validation 30.0%)"), std::string::npos);
  EXPECT_NE(html.find("<del>p1 counts</del> <ins>p2 short</ins>"), std::string::npos);
  EXPECT_NE(html.find("Count &lt;every&gt; item."), std::string::npos);
  EXPECT_NE(html.find("<td>12</td><td>1300</td><td>$0.2500</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"text\">file#7</td><td class=\"text\">How many?</td>"),
            std::string::npos);
  const std::string md = render_markdown(s);
  EXPECT_NE(md.find("### Step 2: reverted"), std::string::npos);
  EXPECT_NE(md.find("| file#7 | How many? | Answer: 999 | 4 |"), std::string::npos);
}

TEST(HtmlReportTest, UnpricedCostsAndTheLabelAreShown) {
  RunSummary s = sample_summary();
  s.label = "offline demonstration (mock model)";
  s.phases = {{"forward", 10, 0, 1000, 200, 0, 0, 10}};
  const std::string html = render_html(s);
  EXPECT_NE(html.find("<p class=\"label\">offline demonstration (mock model)</p>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>unpriced</td>"), std::string::npos);
  EXPECT_EQ(html.find("$0.0000</td><td>"), std::string::npos);
  EXPECT_NE(render_markdown(s).find("offline demonstration (mock model)"), std::string::npos);
}

}  // namespace
}  // namespace tg::cli
