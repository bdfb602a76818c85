// The fixture of the textgrad tool's end-to-end tests: a local OpenAI-shaped server answering
// with the mock model, a temporary directory, and a way to run the tool against both.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "test_paths.h"

namespace tg::testing {

inline std::string textgrad_tool() {
  return std::string(TEXTGRAD_BINARY_DIR) + "/tools/textgrad/textgrad";
}

class CliFixture : public ::testing::Test {
 protected:
  // `key` is the fake API key the tool gets; tests check it never appears in what it writes.
  explicit CliFixture(std::string key) : key_(std::move(key)) {}

  void SetUp() override {
    server_ = std::make_unique<fake::FakeLlmServer>(MockModel(TEXTGRAD_TEST_DATA_DIR));
  }

  std::map<std::string, std::string> env() const {
    return {{"OPENAI_API_KEY", key_},
            {"OPENAI_BASE_URL", server_->base_url() + "/v1"},
            {"TEXTGRAD_CACHE_DIR", dir_.file("cache")},
            {"TEXTGRAD_DATA_DIR", TEXTGRAD_TEST_DATA_DIR}};
  }

  // Runs the tool with `args`; `extra` adds to or replaces the environment above.
  ProcessResult run(std::vector<std::string> args,
                    std::map<std::string, std::string> extra = {}) const {
    args.insert(args.begin(), textgrad_tool());
    auto vars = env();
    for (auto& [k, v] : extra) vars[k] = v;
    return run_process(args, vars);
  }

  // A small object_counting optimization writing to `run_dir`.
  std::vector<std::string> optimize_args(const std::string& run_dir, int steps = 3) const {
    return {"optimize",
            "--task",
            "object_counting",
            "--engine",
            "openai/gpt-4o-mini",
            "--steps",
            std::to_string(steps),
            "--val-size",
            "10",
            "--test-size",
            "10",
            "--run-dir",
            run_dir,
            "--quiet"};
  }

  std::string key_;
  TempDir dir_;
  std::unique_ptr<fake::FakeLlmServer> server_;
};

}  // namespace tg::testing
