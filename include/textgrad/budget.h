// Token budgets for prompts, and the deterministic shortening that keeps a prompt within one.
//
// Note [Token estimate]
// Budgets are in tokens, estimated as UTF-8 bytes / 4 rounded up: no tokenizer is shipped, and
// bytes over-count non-ASCII text, so the estimate errs on the side of staying under a real
// limit. A budget of 0 means "no limit".
//
// Note [Shortening]
// A text is split into tags (`<NAME>` / `</NAME>`, NAME in capitals, digits, `_` or `-`, as all
// our templates write them) and the content between them. Tags are never cut. Content is cut
// by "water-filling": the longest pieces are cut first, each down to the same length, keeping
// its head and its tail around the marker " [...] " and cutting only at UTF-8 character
// boundaries. Several texts sharing one budget (e.g. every conversation and feedback in an
// update request) are water-filled together. The result depends only on the texts and the
// budget.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tg {

// The marker put where content was cut.
inline constexpr std::string_view kCutMarker = " [...] ";

// Estimated tokens of a text: ceil(bytes / 4).
std::size_t estimate_tokens(std::string_view text);
// The characters (bytes) a budget of `tokens` allows.
constexpr std::size_t chars_for_tokens(std::size_t tokens) { return tokens * 4; }

// Shortens `texts` (see Note [Shortening]) so their total size is at most `max_chars`. When
// even the tags alone exceed the budget, every piece of content is dropped and the result is
// still over budget (check the sizes). Texts already within the budget are returned unchanged.
std::vector<std::string> fit_texts(std::vector<std::string> texts, std::size_t max_chars);

// fit_texts for one text.
std::string fit_text(std::string text, std::size_t max_chars);

}  // namespace tg
