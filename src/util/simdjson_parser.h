// simdjson's DOM parser as the per-call path uses it: Note [Parsing JSON with simdjson].
#pragma once

#include <simdjson.h>

#include <memory>
#include <optional>
#include <string_view>

namespace tg::util {

// Parses with this thread's parser, which keeps its buffers from text to text; a text over a
// megabyte gets a parser of its own, freed with this object. Use on one thread.
class SimdjsonParser {
 public:
  // The root, or nothing when simdjson refuses `text`. Valid until this object is destroyed or
  // another SimdjsonParser on the thread parses.
  std::optional<simdjson::dom::element> parse(std::string_view text);

 private:
  std::unique_ptr<simdjson::dom::parser> own_;
};

}  // namespace tg::util
