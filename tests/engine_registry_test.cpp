// Engine names, keys and base URLs from options and environment; make_engine end to end
// against the fake provider servers.
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/http_engine.h"
#include "support/fake_llm_server.h"
#include "textgrad/engines.h"
#include "textgrad/errors.h"

namespace tg::engine {
namespace {

using fake::FakeLlmServer;
using fake::RecordedRequest;

// Every variable the registry reads; cleared for each test so a developer's own keys and
// endpoints cannot leak in, and restored afterwards.
const char* const kVariables[] = {"OPENAI_API_KEY",
                                  "OPENAI_BASE_URL",
                                  "ANTHROPIC_API_KEY",
                                  "ANTHROPIC_BASE_URL",
                                  "GEMINI_API_KEY",
                                  "GOOGLE_API_KEY",
                                  "GEMINI_BASE_URL",
                                  "AZURE_OPENAI_API_KEY",
                                  "AZURE_OPENAI_ENDPOINT",
                                  "AZURE_OPENAI_API_BASE",
                                  "AZURE_OPENAI_API_VERSION",
                                  "OPENAI_API_VERSION",
                                  "OLLAMA_BASE_URL",
                                  "VLLM_BASE_URL",
                                  "LMSTUDIO_BASE_URL",
                                  "LLAMACPP_BASE_URL",
                                  "GROQ_API_KEY",
                                  "TOGETHER_API_KEY",
                                  "OPENROUTER_API_KEY",
                                  "DEEPSEEK_API_KEY"};

class EngineRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kVariables) {
      if (const char* value = std::getenv(name)) saved_[name] = value;
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const char* name : kVariables) {
      const auto found = saved_.find(name);
      if (found == saved_.end()) {
        ::unsetenv(name);
      } else {
        ::setenv(name, found->second.c_str(), 1);
      }
    }
  }
  static void set(const char* name, const char* value) { ::setenv(name, value, 1); }

  // Resolves with every hosted provider's key set, for tests about names only.
  static EngineSpec resolve_with_keys(std::string_view name, const EngineOptions& options = {}) {
    for (const char* key :
         {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "AZURE_OPENAI_API_KEY",
          "GROQ_API_KEY", "TOGETHER_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY"}) {
      set(key, "test-key-123456789");
    }
    set("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com/");
    return resolve_engine_spec(name, options);
  }

  std::map<std::string, std::string> saved_;
};

struct RouteCase {
  std::string name;
  std::string canonical;
  std::string codec;
  std::string model;
  std::string base_url;
};

TEST_F(EngineRegistryTest, RoutesEveryAcceptedForm) {
  const std::vector<RouteCase> cases = {
      {"openai/gpt-4o", "openai/gpt-4o", "openai", "gpt-4o", "https://api.openai.com/v1"},
      {"anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5", "anthropic",
       "claude-sonnet-4-5", "https://api.anthropic.com"},
      {"gemini/gemini-2.5-flash", "gemini/gemini-2.5-flash", "gemini", "gemini-2.5-flash",
       "https://generativelanguage.googleapis.com"},
      {"azure/my-deployment", "azure/my-deployment", "azure", "my-deployment",
       "https://example.openai.azure.com"},
      {"ollama/qwen2.5", "ollama/qwen2.5", "openai", "qwen2.5", "http://localhost:11434/v1"},
      {"vllm/meta-llama/Llama-3.1-8B", "vllm/meta-llama/Llama-3.1-8B", "openai",
       "meta-llama/Llama-3.1-8B", "http://localhost:8000/v1"},
      {"lmstudio/qwen3", "lmstudio/qwen3", "openai", "qwen3", "http://localhost:1234/v1"},
      {"llamacpp/any", "llamacpp/any", "openai", "any", "http://localhost:8080/v1"},
      {"groq/llama-3.3-70b-versatile", "groq/llama-3.3-70b-versatile", "openai",
       "llama-3.3-70b-versatile", "https://api.groq.com/openai/v1"},
      {"together/meta-llama/Llama-3-70b-chat-hf", "together/meta-llama/Llama-3-70b-chat-hf",
       "openai", "meta-llama/Llama-3-70b-chat-hf", "https://api.together.ai/v1"},
      {"openrouter/anthropic/claude-3.5-sonnet", "openrouter/anthropic/claude-3.5-sonnet", "openai",
       "anthropic/claude-3.5-sonnet", "https://openrouter.ai/api/v1"},
      {"deepseek/deepseek-chat", "deepseek/deepseek-chat", "openai", "deepseek-chat",
       "https://api.deepseek.com"},
      // The reference's bare names.
      {"gpt-4o", "openai/gpt-4o", "openai", "gpt-4o", "https://api.openai.com/v1"},
      {"gpt-3.5-turbo-0125", "openai/gpt-3.5-turbo-0125", "openai", "gpt-3.5-turbo-0125",
       "https://api.openai.com/v1"},
      {"o1-preview", "openai/o1-preview", "openai", "o1-preview", "https://api.openai.com/v1"},
      {"claude-3-5-sonnet-20240620", "anthropic/claude-3-5-sonnet-20240620", "anthropic",
       "claude-3-5-sonnet-20240620", "https://api.anthropic.com"},
      {"gemini-pro", "gemini/gemini-pro", "gemini", "gemini-pro",
       "https://generativelanguage.googleapis.com"},
      {"gemini-1.5-pro", "gemini/gemini-1.5-pro", "gemini", "gemini-1.5-pro",
       "https://generativelanguage.googleapis.com"},
      {"deepseek-chat", "deepseek/deepseek-chat", "openai", "deepseek-chat",
       "https://api.deepseek.com"},
      // The reference's prefixes and shortcuts.
      {"ollama-llama3", "ollama/llama3", "openai", "llama3", "http://localhost:11434/v1"},
      {"together-meta-llama/Llama-3-8b", "together/meta-llama/Llama-3-8b", "openai",
       "meta-llama/Llama-3-8b", "https://api.together.ai/v1"},
      {"groq-llama3-70b-8192", "groq/llama3-70b-8192", "openai", "llama3-70b-8192",
       "https://api.groq.com/openai/v1"},
      {"azure-gpt-4o", "azure/gpt-4o", "azure", "gpt-4o", "https://example.openai.azure.com"},
      {"sonnet-3.5", "anthropic/claude-3-5-sonnet-20240620", "anthropic",
       "claude-3-5-sonnet-20240620", "https://api.anthropic.com"},
      {"experimental:gpt-4o", "openai/gpt-4o", "openai", "gpt-4o", "https://api.openai.com/v1"},
      {"experimental:ollama/qwen2.5", "ollama/qwen2.5", "openai", "qwen2.5",
       "http://localhost:11434/v1"},
  };
  for (const RouteCase& expected : cases) {
    SCOPED_TRACE(expected.name);
    const EngineSpec spec = resolve_with_keys(expected.name);
    EXPECT_EQ(spec.name, expected.canonical);
    EXPECT_EQ(spec.config.provider, expected.codec);
    EXPECT_EQ(spec.config.model, expected.model);
    EXPECT_EQ(spec.config.base_url, expected.base_url);
  }
}

TEST_F(EngineRegistryTest, UnknownNamesListTheAcceptedForms) {
  for (const char* name : {"command-r-plus", "mistral-large", "foo/bar", "", "openai/"}) {
    SCOPED_TRACE(name);
    try {
      resolve_with_keys(name);
      ADD_FAILURE() << "accepted";
    } catch (const InvalidArgument& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("accepted forms"), std::string::npos) << message;
      EXPECT_NE(message.find("openai/gpt-4o"), std::string::npos) << message;
    }
  }
}

TEST_F(EngineRegistryTest, MissingKeyNamesTheVariableToSet) {
  const std::map<std::string, std::string> cases = {
      {"openai/gpt-4o", "OPENAI_API_KEY"},
      {"claude-3-5-sonnet-20240620", "ANTHROPIC_API_KEY"},
      {"gemini/gemini-2.5-flash", "GEMINI_API_KEY"},
      {"groq/x", "GROQ_API_KEY"},
      {"together/x/y", "TOGETHER_API_KEY"},
      {"openrouter/x/y", "OPENROUTER_API_KEY"},
      {"deepseek-chat", "DEEPSEEK_API_KEY"},
  };
  for (const auto& [name, variable] : cases) {
    SCOPED_TRACE(name);
    try {
      resolve_engine_spec(name, {});
      ADD_FAILURE() << "accepted without a key";
    } catch (const InvalidArgument& error) {
      EXPECT_NE(std::string(error.what()).find(variable), std::string::npos) << error.what();
    }
  }
}

TEST_F(EngineRegistryTest, KeysComeFromOptionsThenEnvironment) {
  set("OPENAI_API_KEY", "from-env-0123456789");
  EXPECT_EQ(resolve_engine_spec("openai/gpt-4o", {}).config.api_key, "from-env-0123456789");
  EngineOptions options;
  options.api_key = "from-options-0123456789";
  EXPECT_EQ(resolve_engine_spec("openai/gpt-4o", options).config.api_key,
            "from-options-0123456789");
}

TEST_F(EngineRegistryTest, GoogleApiKeyWinsOverGeminiApiKey) {
  set("GEMINI_API_KEY", "gemini-key-0123456789");
  EXPECT_EQ(resolve_engine_spec("gemini-1.5-pro", {}).config.api_key, "gemini-key-0123456789");
  set("GOOGLE_API_KEY", "google-key-0123456789");
  EXPECT_EQ(resolve_engine_spec("gemini-1.5-pro", {}).config.api_key, "google-key-0123456789");
}

TEST_F(EngineRegistryTest, BaseUrlsComeFromOptionsThenEnvironmentThenDefaults) {
  set("OPENAI_API_KEY", "k-0123456789");
  set("OPENAI_BASE_URL", "https://proxy.example.com/v1/");
  EXPECT_EQ(resolve_engine_spec("gpt-4o", {}).config.base_url, "https://proxy.example.com/v1");
  EngineOptions options;
  options.base_url = "http://127.0.0.1:9999/v1/";
  EXPECT_EQ(resolve_engine_spec("gpt-4o", options).config.base_url, "http://127.0.0.1:9999/v1");

  const std::map<std::string, std::string> local = {{"OLLAMA_BASE_URL", "ollama/m"},
                                                    {"VLLM_BASE_URL", "vllm/m"},
                                                    {"LMSTUDIO_BASE_URL", "lmstudio/m"},
                                                    {"LLAMACPP_BASE_URL", "llamacpp/m"}};
  for (const auto& [variable, name] : local) {
    set(variable.c_str(), "http://gpu-box:1234/v1");
    EXPECT_EQ(resolve_engine_spec(name, {}).config.base_url, "http://gpu-box:1234/v1") << name;
  }
  set("ANTHROPIC_API_KEY", "k-0123456789");
  set("ANTHROPIC_BASE_URL", "http://anthropic-proxy");
  EXPECT_EQ(resolve_engine_spec("anthropic/claude-sonnet-4-5", {}).config.base_url,
            "http://anthropic-proxy");
  set("GEMINI_API_KEY", "k-0123456789");
  set("GEMINI_BASE_URL", "http://gemini-proxy");
  EXPECT_EQ(resolve_engine_spec("gemini/gemini-2.5-flash", {}).config.base_url,
            "http://gemini-proxy");
}

TEST_F(EngineRegistryTest, LocalServersNeedNoKeyAndSendMaxTokens) {
  for (const char* name :
       {"ollama/qwen2.5", "vllm/m", "lmstudio/m", "llamacpp/m", "ollama-llama3"}) {
    SCOPED_TRACE(name);
    const EngineSpec spec = resolve_engine_spec(name, {});
    EXPECT_EQ(spec.config.api_key, "");
    EXPECT_FALSE(spec.config.use_max_completion_tokens);
  }
  EngineOptions options;
  options.api_key = "vllm-served-key-0123";
  options.use_max_completion_tokens = true;
  const EngineSpec spec = resolve_engine_spec("vllm/m", options);
  EXPECT_EQ(spec.config.api_key, "vllm-served-key-0123");
  EXPECT_TRUE(spec.config.use_max_completion_tokens);
  EXPECT_TRUE(resolve_with_keys("openai/gpt-4o").config.use_max_completion_tokens);
}

TEST_F(EngineRegistryTest, AzureNeedsAnEndpointAndHasAnApiVersion) {
  set("AZURE_OPENAI_API_KEY", "azure-key-0123456789");
  try {
    resolve_engine_spec("azure/dep", {});
    ADD_FAILURE() << "accepted without an endpoint";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("AZURE_OPENAI_ENDPOINT"), std::string::npos);
  }
  set("AZURE_OPENAI_API_BASE", "https://legacy.openai.azure.com");
  EngineSpec spec = resolve_engine_spec("azure/dep", {});
  EXPECT_EQ(spec.config.base_url, "https://legacy.openai.azure.com");
  EXPECT_EQ(spec.config.azure_api_version, "2024-10-21");
  EXPECT_EQ(spec.config.api_key, "azure-key-0123456789");

  set("AZURE_OPENAI_ENDPOINT", "https://new.openai.azure.com");
  set("OPENAI_API_VERSION", "2024-06-01");
  spec = resolve_engine_spec("azure-dep", {});
  EXPECT_EQ(spec.config.base_url, "https://new.openai.azure.com");
  EXPECT_EQ(spec.config.azure_api_version, "2024-06-01");
  set("AZURE_OPENAI_API_VERSION", "2025-01-01-preview");
  EXPECT_EQ(resolve_engine_spec("azure-dep", {}).config.azure_api_version, "2025-01-01-preview");
}

TEST_F(EngineRegistryTest, OptionsReachTheConfig) {
  EngineOptions options;
  options.extra_headers = {{"HTTP-Referer", "https://example.com"}};
  options.accepts_images = false;
  const EngineSpec spec = resolve_with_keys("openrouter/x/y", options);
  EXPECT_EQ(spec.config.extra_headers, options.extra_headers);
  EXPECT_EQ(spec.accepts_images, false);
}

TEST_F(EngineRegistryTest, MissingKeyErrorFromMakeEngine) {
  EXPECT_THROW(make_engine("openai/gpt-4o"), InvalidArgument);
  EXPECT_THROW(make_engine("no-such-model"), InvalidArgument);
}

// End to end with the real codecs against the fake servers.

struct DialectCase {
  std::string name;
  std::string path_fragment;
  std::string key_header;
};

TEST_F(EngineRegistryTest, MakeEngineTalksToEachDialect) {
  FakeLlmServer server([](const RecordedRequest& request) {
    return fake::reply_for(request, "hello from the fake", {5, 3, 0});
  });
  EngineOptions options;
  options.base_url = server.base_url();
  options.api_key = "fake-e2e-secret-0123456789";
  options.transport = make_transport();
  const std::vector<DialectCase> cases = {
      {"openai/gpt-4o", "/chat/completions", "authorization"},
      {"anthropic/claude-sonnet-4-5", "/v1/messages", "x-api-key"},
      {"gemini/gemini-2.5-flash", ":generateContent", "x-goog-api-key"},
  };
  for (const DialectCase& expected : cases) {
    SCOPED_TRACE(expected.name);
    const std::size_t before = server.request_count();
    const EnginePtr engine = make_engine(expected.name, options);
    EXPECT_EQ(engine->name(), expected.name);
    const Response response = engine->generate("Say hello.", "Be brief.");
    EXPECT_EQ(response.text, "hello from the fake");
    EXPECT_EQ(response.usage.input_tokens, 5);
    EXPECT_EQ(response.usage.output_tokens, 3);
    const RecordedRequest sent = server.requests().at(before);
    EXPECT_NE(sent.path.find(expected.path_fragment), std::string::npos) << sent.path;
    EXPECT_NE(sent.header(expected.key_header).find("fake-e2e-secret-0123456789"), std::string::npos);
    const std::optional<EngineStats> stats = engine_stats(*engine);
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->succeeded, 1);
    EXPECT_EQ(stats->usage.output_tokens, 3);
  }
}

TEST_F(EngineRegistryTest, LocalServerGetsMaxTokensAndNoKey) {
  FakeLlmServer server;
  set("OLLAMA_BASE_URL", (server.base_url() + "/v1").c_str());
  const EnginePtr engine = make_engine("ollama-qwen2.5");
  EXPECT_EQ(engine->generate("hi").text, "ok");
  const RecordedRequest sent = server.requests().at(0);
  EXPECT_EQ(sent.path, "/v1/chat/completions");
  EXPECT_EQ(sent.header("authorization"), "");
  EXPECT_TRUE(sent.json().contains("max_tokens"));
  EXPECT_FALSE(sent.json().contains("max_completion_tokens"));
  EXPECT_EQ(sent.json().at("model"), "qwen2.5");
}

TEST_F(EngineRegistryTest, WrongKeyIsAnAuthenticationErrorWithoutTheKey) {
  for (const fake::Dialect dialect :
       {fake::Dialect::kOpenAI, fake::Dialect::kAnthropic, fake::Dialect::kGemini}) {
    FakeLlmServer server([dialect](const RecordedRequest& request) {
      // Echo the credentials back, as a careless proxy might.
      fake::FakeReply reply = fake::wrong_key(dialect);
      nlohmann::json body = nlohmann::json::parse(reply.body);
      body["error"]["message"] = body["error"]["message"].get<std::string>() +
                                 " got: " + request.header("authorization") +
                                 request.header("x-api-key") + request.header("x-goog-api-key");
      reply.body = body.dump();
      return reply;
    });
    EngineOptions options;
    options.base_url = server.base_url();
    options.api_key = "fake-wrong-secret-0123456789";
    const char* name = dialect == fake::Dialect::kOpenAI      ? "openai/gpt-4o"
                       : dialect == fake::Dialect::kAnthropic ? "anthropic/claude-sonnet-4-5"
                                                              : "gemini/gemini-2.5-flash";
    SCOPED_TRACE(name);
    const EnginePtr engine = make_engine(name, options);
    try {
      engine->generate("hi");
      ADD_FAILURE() << "no error";
    } catch (const EngineError& error) {
      EXPECT_EQ(error.kind(), EngineErrorKind::kAuthentication) << error.what();
      EXPECT_EQ(std::string(error.what()).find("fake-wrong-secret-0123456789"), std::string::npos)
          << error.what();
    }
    EXPECT_EQ(server.request_count(), 1u);  // never retried
  }
}

TEST_F(EngineRegistryTest, RateLimitThenAnswerThroughRealCodecs) {
  for (const fake::Dialect dialect :
       {fake::Dialect::kOpenAI, fake::Dialect::kAnthropic, fake::Dialect::kGemini}) {
    FakeLlmServer server([](const RecordedRequest& request) {
      return request.index == 0 ? fake::rate_limited(fake::dialect_of(request), 0.2)
                                : fake::reply_for(request, "after the wait");
    });
    EngineOptions options;
    options.base_url = server.base_url();
    options.api_key = "k-0123456789";
    const char* name = dialect == fake::Dialect::kOpenAI      ? "openai/gpt-4o"
                       : dialect == fake::Dialect::kAnthropic ? "anthropic/claude-sonnet-4-5"
                                                              : "gemini/gemini-2.5-flash";
    SCOPED_TRACE(name);
    const EnginePtr engine = make_engine(name, options);
    EXPECT_EQ(engine->generate("hi").text, "after the wait");
    const std::vector<RecordedRequest> seen = server.requests();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_GE(seen[1].arrived - seen[0].arrived, std::chrono::milliseconds(190));
    EXPECT_EQ(engine_stats(*engine)->retries, 1);
  }
}

}  // namespace
}  // namespace tg::engine
