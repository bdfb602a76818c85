#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "support/workloads.h"
#include "test_paths.h"
#include "textgrad/textgrad.h"
#include "textgrad/usage.h"

namespace tg {
namespace {

TEST(Prices, LongestPrefixWinsAndProviderKeysWork) {
  PriceTable table = PriceTable::parse(R"({"_note": "x",
      "gpt-4o": {"input": 2.5, "output": 10, "cached_input": 1.25},
      "gpt-4o-mini": {"input": 0.15, "output": 0.6},
      "ollama/": {"input": 0, "output": 0}})",
                                       "test");
  EXPECT_DOUBLE_EQ(table.find("openai", "gpt-4o-2024-08-06")->input, 2.5);
  EXPECT_DOUBLE_EQ(table.find("openai", "gpt-4o-mini")->input, 0.15);
  EXPECT_DOUBLE_EQ(table.find("ollama", "qwen2.5")->output, 0);
  EXPECT_FALSE(table.find("anthropic", "claude-x").has_value());
  Usage usage{1'000'000, 100'000, 400'000};
  // 600k fresh input * 2.5 + 400k cached * 1.25 + 100k output * 10, per million
  EXPECT_NEAR(*table.cost("openai", "gpt-4o", usage), 1.5 + 0.5 + 1.0, 1e-9);
  EXPECT_THROW(PriceTable::parse(R"({"m": {"input": "cheap"}})", "bad.json"), ParseError);
  EXPECT_THROW(PriceTable::parse("not json", "bad.json"), ParseError);
}

TEST(Prices, ShippedTableLoadsAndCoversTheReferenceModels) {
  PriceTable table = PriceTable::builtin(TEXTGRAD_TEST_DATA_DIR);
  for (const char* model :
       {"gpt-4o", "gpt-3.5-turbo-0125", "gpt-4o-mini", "claude-3-5-sonnet-20240620"}) {
    EXPECT_TRUE(table.find("openai", model).has_value()) << model;
  }
  EXPECT_TRUE(table.find("gemini", "gemini-2.5-flash").has_value());
}

TEST(Prices, LookedUpByTheCanonicalProvider) {
  const PriceTable table = PriceTable::shipped();
  // Compatible servers are priced under their own name, not under the wire format's.
  EXPECT_TRUE(table.is_priced("deepseek", "deepseek-chat"));
  EXPECT_TRUE(table.is_priced("groq", "llama-3.3-70b-versatile"));
  // Groq's model names have a slash of their own: the whole name follows "groq/".
  const std::optional<double> gpt_oss =
      table.cost("groq", "openai/gpt-oss-120b", {1'000'000, 1'000'000, 0});
  ASSERT_TRUE(gpt_oss.has_value());
  EXPECT_DOUBLE_EQ(*gpt_oss, 0.75);
  EXPECT_FALSE(table.is_priced("openai", "openai/gpt-oss-120b"));
  EXPECT_FALSE(table.is_priced("together", "meta-llama/Llama-3-70b-chat-hf"));
  EXPECT_FALSE(table.is_priced("openai", "deepseek-chat"));
  // Local servers are free whatever the model is called.
  for (const char* provider : {"ollama", "vllm", "lmstudio", "llamacpp"}) {
    SCOPED_TRACE(provider);
    const std::optional<double> cost = table.cost(provider, "gpt-4o-mini", {1000, 1000, 0});
    ASSERT_TRUE(cost.has_value());
    EXPECT_EQ(*cost, 0);
  }
  EXPECT_GT(*table.cost("openai", "gpt-4o-mini", {1000, 1000, 0}), 0);
}

TEST(Prices, ProviderKeysBeatBareKeys) {
  const PriceTable table = PriceTable::parse(R"({
      "gpt-4o-mini": {"input": 1, "output": 1},
      "azure/gpt-4o": {"input": 7, "output": 7},
      "ollama/special": {"input": 3, "output": 3}})",
                                             "test");
  EXPECT_DOUBLE_EQ(table.find("azure", "gpt-4o-mini")->input, 7);  // qualified, though shorter
  EXPECT_DOUBLE_EQ(table.find("openai", "gpt-4o-mini")->input, 1);
  EXPECT_DOUBLE_EQ(table.find("ollama", "special-1")->input,
                   3);  // a local server priced on purpose
  EXPECT_DOUBLE_EQ(table.find("ollama", "gpt-4o-mini")->input, 0);
}

// A data directory without prices.json keeps the shipped table; one with a prices.json
// overrides it entry by entry.
TEST(Prices, UserTablesOverrideTheShippedOneEntryByEntry) {
  char pattern[] = "/tmp/textgrad-prices-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::filesystem::path dir = pattern;
  const PriceTable without = PriceTable::builtin(dir.string());
  EXPECT_TRUE(without.is_priced("openai", "gpt-4o"));
  EXPECT_EQ(without.size(), PriceTable::shipped().size());

  std::ofstream(dir / "prices.json") << R"({"gpt-4o": {"input": 100, "output": 200},
                                            "mine/model": {"input": 1, "output": 2}})";
  const PriceTable with = PriceTable::builtin(dir.string());
  EXPECT_DOUBLE_EQ(with.find("openai", "gpt-4o")->input, 100);
  EXPECT_TRUE(with.is_priced("mine", "model"));
  EXPECT_TRUE(with.is_priced("anthropic", "claude-sonnet-4-5"));  // untouched entries stay
  std::filesystem::remove_all(dir);
}

TEST(Ledger, RecordsCallsPerPhaseWithCostAndBudget) {
  PriceTable prices;
  prices.set("scripted", {.input = 1'000'000, .output = 1'000'000});  // $1 a token: easy sums
  auto ledger = std::make_shared<Ledger>(prices);
  auto inner = testing::scripted_engine();
  EnginePtr engine = with_ledger(inner, ledger);
  std::vector<CallRecord> seen;
  std::mutex mu;
  ledger->on_record([&](const CallRecord& r) {
    std::lock_guard lock(mu);
    seen.push_back(r);
  });
  testing::run_solution_workload(engine, {.steps = 1});
  Totals total = ledger->total();
  EXPECT_EQ(total.calls, 3);
  EXPECT_EQ(ledger->phase(Phase::kLoss).calls, 1);
  EXPECT_EQ(ledger->phase(Phase::kBackward).calls, 1);
  EXPECT_EQ(ledger->phase(Phase::kUpdate).calls, 1);
  Usage inner_usage = inner->usage();
  EXPECT_EQ(total.usage, inner_usage);
  EXPECT_DOUBLE_EQ(total.cost_usd,
                   static_cast<double>(inner_usage.input_tokens + inner_usage.output_tokens));
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(ledger->by_model().at("scripted").calls, 3);

  EXPECT_NO_THROW(ledger->check_budget());
  ledger->set_budget({.max_usd = total.cost_usd + 1});
  EXPECT_NO_THROW(ledger->check_budget());
  ledger->set_budget({.max_usd = total.cost_usd});
  EXPECT_TRUE(ledger->over_budget());
  try {
    ledger->check_budget();
    FAIL();
  } catch (const BudgetExceeded& e) {
    EXPECT_NE(std::string(e.what()).find("budget"), std::string::npos);
  }
  ledger->set_budget({.max_tokens = 1});
  EXPECT_THROW(ledger->check_budget(), BudgetExceeded);
}

TEST(Ledger, ErrorsAndUnpricedModelsAreCounted) {
  auto ledger = std::make_shared<Ledger>();
  auto inner = std::make_shared<ScriptedEngine>([](const Request& r) -> std::string {
    if (r.user_text() == "fail") throw EngineError(EngineErrorKind::kServer, "boom");
    return "fine";
  });
  EnginePtr engine = with_ledger(inner, ledger);
  EXPECT_EQ(engine->generate("hello").text, "fine");
  EXPECT_THROW(engine->generate("fail"), EngineError);
  Totals total = ledger->total();
  EXPECT_EQ(total.calls, 2);
  EXPECT_EQ(total.errors, 1);
  EXPECT_EQ(total.unpriced_calls, 1);
  EXPECT_EQ(total.cost_usd, 0);
}

// An answer refused for length (or by a filter) was paid for: its tokens reach the ledger.
TEST(Ledger, BilledTokensOfFailedAnswersAreRecorded) {
  PriceTable prices;
  prices.set("scripted", {.input = 1'000'000, .output = 2'000'000});
  auto ledger = std::make_shared<Ledger>(prices);
  auto inner = std::make_shared<ScriptedEngine>([](const Request&) -> std::string {
    throw EngineError(EngineErrorKind::kTruncated, "cut off", 200, Usage{10, 5, 0});
  });
  EXPECT_THROW(with_ledger(inner, ledger)->generate("q"), EngineError);
  const Totals total = ledger->total();
  EXPECT_EQ(total.errors, 1);
  EXPECT_EQ(total.usage, (Usage{10, 5, 0}));
  EXPECT_DOUBLE_EQ(total.cost_usd, 10 + 5 * 2);
  EXPECT_EQ(total.unpriced_calls, 0);
}

}  // namespace
}  // namespace tg
