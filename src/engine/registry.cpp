// Engine names → provider, model, base URL and key. The accepted forms:
//   provider/model            openai/gpt-4o, together/meta-llama/Llama-3-70b-chat-hf, ...
//   provider-model            the reference's prefixes: ollama-llama3, azure-my-deployment, ...
//   bare model names          gpt-4o, o1-mini, claude-3-5-sonnet-20240620, gemini-1.5-pro, ...
//   experimental:<any above>  the reference's LiteLLM prefix, stripped
#include <cctype>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "engine/http_engine.h"
#include "textgrad/engines.h"
#include "textgrad/errors.h"
#include "util/text.h"

namespace tg {
namespace engine {
namespace {

struct ProviderInfo {
  std::string_view name;
  std::string_view codec;
  std::string_view default_base_url;                 // empty: must be configured (Azure)
  std::initializer_list<std::string_view> key_env;   // first set wins; empty: no key needed
  std::initializer_list<std::string_view> base_env;  // first set wins
  bool max_completion_tokens;
};

// OpenAI, Azure and Groq read max_completion_tokens; the other compatible servers document
// only max_tokens. GOOGLE_API_KEY precedes GEMINI_API_KEY as in Google's SDK.
constexpr std::string_view kAzureDefaultVersion = "2024-10-21";
const ProviderInfo kProviders[] = {
    {"openai",
     "openai",
     "https://api.openai.com/v1",
     {"OPENAI_API_KEY"},
     {"OPENAI_BASE_URL"},
     true},
    {"anthropic",
     "anthropic",
     "https://api.anthropic.com",
     {"ANTHROPIC_API_KEY"},
     {"ANTHROPIC_BASE_URL"},
     true},
    {"gemini",
     "gemini",
     "https://generativelanguage.googleapis.com",
     {"GOOGLE_API_KEY", "GEMINI_API_KEY"},
     {"GEMINI_BASE_URL"},
     true},
    {"azure",
     "azure",
     "",
     {"AZURE_OPENAI_API_KEY"},
     {"AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_BASE"},
     true},
    {"ollama", "openai", "http://localhost:11434/v1", {}, {"OLLAMA_BASE_URL"}, false},
    {"vllm", "openai", "http://localhost:8000/v1", {}, {"VLLM_BASE_URL"}, false},
    {"lmstudio", "openai", "http://localhost:1234/v1", {}, {"LMSTUDIO_BASE_URL"}, false},
    {"llamacpp", "openai", "http://localhost:8080/v1", {}, {"LLAMACPP_BASE_URL"}, false},
    {"groq", "openai", "https://api.groq.com/openai/v1", {"GROQ_API_KEY"}, {}, true},
    {"together", "openai", "https://api.together.ai/v1", {"TOGETHER_API_KEY"}, {}, false},
    {"openrouter", "openai", "https://openrouter.ai/api/v1", {"OPENROUTER_API_KEY"}, {}, false},
    {"deepseek", "openai", "https://api.deepseek.com", {"DEEPSEEK_API_KEY"}, {}, false},
};

// The reference's shortcuts, kept so its scripts keep working.
struct Alias {
  std::string_view name;
  std::string_view target;
};
constexpr Alias kAliases[] = {
    {"opus", "anthropic/claude-3-opus-20240229"},
    {"haiku", "anthropic/claude-3-haiku-20240307"},
    {"sonnet", "anthropic/claude-3-sonnet-20240229"},
    {"sonnet-3.5", "anthropic/claude-3-5-sonnet-20240620"},
    {"together-llama-3-70b", "together/meta-llama/Llama-3-70b-chat-hf"},
    {"vllm-llama-3-8b", "vllm/meta-llama/Meta-Llama-3-8B-Instruct"},
};

// "provider-model" prefixes. Not gemini-, deepseek-, ... : those begin real model names.
constexpr std::string_view kDashPrefixes[] = {"azure", "ollama",   "together", "groq",
                                              "vllm",  "lmstudio", "llamacpp", "openrouter"};

constexpr std::string_view kAcceptedForms =
    "accepted forms: \"provider/model\" with provider one of openai, anthropic, gemini, azure, "
    "ollama, vllm, lmstudio, llamacpp, groq, together, openrouter, deepseek (e.g. "
    "\"openai/gpt-4o\", \"anthropic/claude-sonnet-4-5\", \"ollama/qwen2.5\"); the same "
    "with a dash (\"ollama-llama3\", \"azure-<deployment>\"); bare OpenAI, Claude, Gemini or "
    "DeepSeek model names (\"gpt-4o\", \"o1-mini\", \"claude-3-5-sonnet-20240620\", "
    "\"gemini-1.5-pro\", \"deepseek-chat\"); any of these after \"experimental:\"";

struct ParsedName {
  const ProviderInfo* provider = nullptr;
  std::string model;
};

const ProviderInfo* find_provider(std::string_view name) {
  for (const ProviderInfo& provider : kProviders) {
    if (provider.name == name) return &provider;
  }
  return nullptr;
}

bool is_openai_model(std::string_view model) {
  const bool o_series = model.size() >= 2 && model[0] == 'o' &&
                        std::isdigit(static_cast<unsigned char>(model[1])) != 0;
  return o_series || model.starts_with("gpt-") || model.starts_with("chatgpt-") ||
         model.find("gpt-4") != std::string_view::npos ||
         model.find("gpt-3.5") != std::string_view::npos;
}

// Provider of a bare model name, or nullptr.
const ProviderInfo* provider_of_bare_name(std::string_view name) {
  const std::string model = util::lower(name);
  if (is_openai_model(model)) return find_provider("openai");
  if (model.find("claude") != std::string::npos) return find_provider("anthropic");
  if (model.find("gemini") != std::string::npos) return find_provider("gemini");
  if (model.starts_with("deepseek-")) return find_provider("deepseek");
  return nullptr;
}

std::optional<ParsedName> parse_name(std::string_view name) {
  for (const Alias& alias : kAliases) {
    if (alias.name == name) name = alias.target;
  }
  const std::size_t slash = name.find('/');
  if (slash != std::string_view::npos) {
    if (const ProviderInfo* provider = find_provider(name.substr(0, slash))) {
      return ParsedName{provider, std::string(name.substr(slash + 1))};
    }
  }
  for (std::string_view prefix : kDashPrefixes) {
    if (name.starts_with(prefix) && name.size() > prefix.size() && name[prefix.size()] == '-') {
      return ParsedName{find_provider(prefix), std::string(name.substr(prefix.size() + 1))};
    }
  }
  // "org/model" without a provider is ambiguous (Together? OpenRouter? vLLM?): refuse it.
  if (slash != std::string_view::npos) return std::nullopt;
  if (const ProviderInfo* provider = provider_of_bare_name(name)) {
    return ParsedName{provider, std::string(name)};
  }
  return std::nullopt;
}

std::string env(std::string_view variable) {
  const char* value = std::getenv(std::string(variable).c_str());
  return value == nullptr ? std::string() : std::string(value);
}

std::string first_env(std::initializer_list<std::string_view> variables) {
  for (std::string_view variable : variables) {
    if (std::string value = env(variable); !value.empty()) return value;
  }
  return {};
}

std::string join_names(std::initializer_list<std::string_view> variables) {
  std::string joined;
  for (std::string_view variable : variables) {
    if (!joined.empty()) joined += " or ";
    joined += variable;
  }
  return joined;
}

std::string resolve_base_url(const ProviderInfo& provider, const EngineOptions& options,
                             std::string_view name) {
  std::string url = options.base_url;
  if (url.empty()) url = first_env(provider.base_env);
  if (url.empty()) url = provider.default_base_url;
  if (url.empty()) {
    throw InvalidArgument(
        fmt::format("{} needs the Azure OpenAI endpoint: set {} (in code: base_url in the "
                    "engine options)",
                    name, join_names(provider.base_env)));
  }
  while (url.ends_with('/')) url.pop_back();
  return url;
}

std::string resolve_key(const ProviderInfo& provider, const EngineOptions& options,
                        std::string_view name) {
  if (!options.api_key.empty()) return options.api_key;
  if (provider.key_env.size() == 0) return {};  // local servers need none
  std::string key = first_env(provider.key_env);
  if (key.empty()) {
    throw InvalidArgument(
        fmt::format("{} needs an API key: set {} (in code: api_key in the engine options)", name,
                    join_names(provider.key_env)));
  }
  return key;
}

std::string resolve_azure_version(const EngineOptions& options) {
  if (!options.azure_api_version.empty()) return options.azure_api_version;
  std::string version = first_env({"AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION"});
  return version.empty() ? std::string(kAzureDefaultVersion) : version;
}

}  // namespace

EngineSpec resolve_engine_spec(std::string_view raw_name, const EngineOptions& options) {
  std::string_view name = raw_name;
  if (name.starts_with("experimental:"))
    name.remove_prefix(std::string_view("experimental:").size());
  const std::optional<ParsedName> parsed = parse_name(name);
  if (!parsed.has_value()) {
    throw InvalidArgument(fmt::format("unknown engine name \"{}\"; {}", raw_name, kAcceptedForms));
  }
  if (parsed->model.empty()) {
    throw InvalidArgument(
        fmt::format("engine name \"{}\" names no model; {}", raw_name, kAcceptedForms));
  }
  const ProviderInfo& provider = *parsed->provider;
  EngineSpec spec;
  spec.name = fmt::format("{}/{}", provider.name, parsed->model);
  spec.config.provider = std::string(provider.name);
  spec.config.wire_format = std::string(provider.codec);
  spec.config.model = parsed->model;
  spec.config.base_url = resolve_base_url(provider, options, spec.name);
  spec.config.api_key = resolve_key(provider, options, spec.name);
  if (provider.name == "azure") spec.config.azure_api_version = resolve_azure_version(options);
  CapabilityTable capabilities = CapabilityTable::shipped();
  if (!options.model_table_path.empty()) {
    capabilities.merge(CapabilityTable::load(options.model_table_path));
  }
  spec.capabilities = capabilities.find(spec.config.provider, spec.config.model);
  spec.config.use_max_completion_tokens = options.use_max_completion_tokens.value_or(
      spec.capabilities.max_completion_tokens.value_or(provider.max_completion_tokens));
  spec.config.extra_headers = options.extra_headers;
  spec.accepts_images = options.accepts_images;
  return spec;
}

}  // namespace engine

std::shared_ptr<http::Transport> make_transport(long max_connections_per_host) {
  http::TransportOptions options;
  options.max_host_connections = max_connections_per_host;
  return std::make_shared<http::Transport>(options);
}

EnginePtr make_engine(std::string_view name, const EngineOptions& options) {
  engine::EngineSpec spec = engine::resolve_engine_spec(name, options);
  std::unique_ptr<providers::Codec> codec = providers::make_codec(spec.config.wire_format);
  // One transport per engine unless the caller shares one: no process-wide state whose
  // I/O thread would outlive main() or couple unrelated engines (and tests).
  std::shared_ptr<http::Transport> transport =
      options.transport ? options.transport : make_transport();
  engine::HttpEngineOptions engine_options;
  engine_options.name = spec.name;
  engine_options.sampling = options.sampling;
  engine_options.retry = {options.max_retries, options.retry_initial_delay_s,
                          options.retry_max_delay_s, options.max_retry_after_s};
  engine_options.timeout_s = options.timeout_s;
  engine_options.connect_timeout_s = options.connect_timeout_s;
  engine_options.accepts_images = spec.accepts_images;
  engine_options.capabilities = spec.capabilities;
  engine_options.max_answer_bytes = options.max_answer_bytes;
  engine_options.clock = options.clock;
  return std::make_shared<engine::HttpEngine>(std::move(spec.config), std::move(codec),
                                              std::move(transport), std::move(engine_options));
}

}  // namespace tg
