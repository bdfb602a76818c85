// The capability table: what each model rejects, so requests leave it out.
#include <fmt/format.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "engine/model_keys.h"
#include "engine/shipped_tables.h"
#include "textgrad/engines.h"
#include "textgrad/errors.h"
#include "util/text.h"

namespace tg {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kFields[] = {"temperature", "top_p", "temperature_with_top_p",
                                        "max_completion_tokens"};

ModelCapabilities parse_entry(const std::string& key, const Json& entry,
                              const std::string& origin) {
  if (!entry.is_object()) {
    throw ParseError(
        fmt::format("{}: the entry '{}' must be an object such as "
                    "{{\"temperature\": false}}",
                    origin, key));
  }
  for (const auto& [field, value] : entry.items()) {
    const bool known =
        std::find(std::begin(kFields), std::end(kFields), field) != std::end(kFields);
    if (!known || !value.is_boolean()) {
      throw ParseError(
          fmt::format("{}: '{}' has {} field \"{}\"; the fields are temperature, top_p, "
                      "temperature_with_top_p and max_completion_tokens, each true or false",
                      origin, key, known ? "a non-boolean" : "an unknown", field));
    }
  }
  ModelCapabilities capabilities;
  capabilities.temperature = entry.value("temperature", true);
  capabilities.top_p = entry.value("top_p", true);
  capabilities.temperature_with_top_p = entry.value("temperature_with_top_p", true);
  if (entry.contains("max_completion_tokens")) {
    capabilities.max_completion_tokens = entry["max_completion_tokens"].get<bool>();
  }
  return capabilities;
}

}  // namespace

SamplingParams ModelCapabilities::filter(SamplingParams sampling) const {
  if (!temperature) sampling.temperature.reset();
  if (!top_p) sampling.top_p.reset();
  if (!temperature_with_top_p && sampling.temperature) sampling.top_p.reset();
  return sampling;
}

CapabilityTable CapabilityTable::shipped() {
  static const CapabilityTable table =
      parse(std::string(engine::kShippedModels), "data/models.json");
  return table;
}

CapabilityTable CapabilityTable::load(const std::string& path) {
  return parse(util::read_file(path), path);
}

CapabilityTable CapabilityTable::parse(const std::string& json_text, const std::string& origin) {
  const Json document = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    throw ParseError(fmt::format(
        "{}: not a JSON object of model capabilities; expected {{\"o1\": {{\"temperature\": "
        "false}}}}",
        origin));
  }
  CapabilityTable table;
  for (const auto& [key, entry] : document.items()) {
    if (key.starts_with("_")) continue;
    table.set(key, parse_entry(key, entry, origin));
  }
  return table;
}

void CapabilityTable::set(const std::string& key, ModelCapabilities capabilities) {
  entries_[key] = capabilities;
}

void CapabilityTable::merge(const CapabilityTable& overrides) {
  for (const auto& [key, capabilities] : overrides.entries_) entries_[key] = capabilities;
}

// Note [Model table keys] (engine/model_keys.h) gives the matching rule.
ModelCapabilities CapabilityTable::find(std::string_view provider, std::string_view model) const {
  const ModelCapabilities* found = engine::find_by_model_key(entries_, provider, model);
  return found != nullptr ? *found : ModelCapabilities{};
}

}  // namespace tg
