// Note [Model table keys]
// The price table (data/prices.json) and the capability table (data/models.json) share one
// key scheme. A key is "<provider>/<model prefix>" or a bare "<model prefix>":
//   - a provider-qualified key applies to that provider's models only, and always beats a bare
//     key, so "ollama/" (any model on Ollama) wins over "gpt-4o" for ollama/gpt-4o;
//   - a bare key applies to a model of that name at any provider (Azure deployments and
//     compatible servers named after OpenAI models), unless the caller excludes bare keys;
//   - among keys of one kind the longest matching prefix wins ("gpt-4o-mini" over "gpt-4o").
// Documented for users in docs/engines.md.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace tg::engine {

// The entry of `table` whose key best matches provider/model, or nullptr.
template <class Value>
const Value* find_by_model_key(const std::map<std::string, Value>& table, std::string_view provider,
                               std::string_view model, bool bare_keys_apply = true) {
  const std::string qualified = std::string(provider) + "/" + std::string(model);
  const Value* best_qualified = nullptr;
  const Value* best_bare = nullptr;
  std::size_t qualified_length = 0;
  std::size_t bare_length = 0;
  for (const auto& [key, value] : table) {
    const bool is_qualified = key.find('/') != std::string::npos;
    if (is_qualified && qualified.starts_with(key) && key.size() >= qualified_length) {
      best_qualified = &value;
      qualified_length = key.size();
    } else if (!is_qualified && model.starts_with(key) && key.size() >= bare_length) {
      best_bare = &value;
      bare_length = key.size();
    }
  }
  if (best_qualified != nullptr) return best_qualified;
  return bare_keys_apply ? best_bare : nullptr;
}

// Servers that run on the user's own hardware: free, whatever model they serve.
inline bool is_local_provider(std::string_view provider) {
  return provider == "ollama" || provider == "vllm" || provider == "lmstudio" ||
         provider == "llamacpp";
}

}  // namespace tg::engine
