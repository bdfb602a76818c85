#include "util/simdjson_parser.h"

#include <cstddef>

namespace tg::util {

std::optional<simdjson::dom::element> SimdjsonParser::parse(std::string_view text) {
  constexpr std::size_t kKeptBytes = std::size_t{1} << 20;
  thread_local simdjson::dom::parser kept;
  simdjson::dom::parser* parser = &kept;
  if (text.size() > kKeptBytes) {
    own_ = std::make_unique<simdjson::dom::parser>();
    parser = own_.get();
  }
  simdjson::dom::element root;
  // `true`: the text is copied into the parser's padded buffer (simdjson reads past the end).
  if (parser->parse(text.data(), text.size(), true).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return root;
}

}  // namespace tg::util
