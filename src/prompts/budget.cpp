// See Note [Shortening] in include/textgrad/budget.h.
#include "textgrad/budget.h"

#include <algorithm>

namespace tg {
namespace {

struct Piece {
  size_t text;  // which text
  std::string body;
  bool is_tag;
};

bool is_tag_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Length of the tag starting at text[i], or 0 if none starts there.
size_t tag_length(std::string_view text, size_t i) {
  if (text[i] != '<') return 0;
  size_t j = i + 1;
  if (j < text.size() && text[j] == '/') ++j;
  if (j >= text.size() || !(text[j] >= 'A' && text[j] <= 'Z')) return 0;
  while (j < text.size() && is_tag_char(text[j])) ++j;
  return j < text.size() && text[j] == '>' ? j + 1 - i : 0;
}

void split(size_t index, std::string_view text, std::vector<Piece>& out) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    size_t tag = tag_length(text, i);
    if (tag == 0) continue;
    if (i > start) out.push_back({index, std::string(text.substr(start, i - start)), false});
    out.push_back({index, std::string(text.substr(i, tag)), true});
    i += tag - 1;
    start = i + 1;
  }
  if (start < text.size()) out.push_back({index, std::string(text.substr(start)), false});
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Size a content piece of length `length` takes under cap `cap`.
size_t capped(size_t length, size_t cap) {
  if (length <= cap) return length;
  return cap >= kCutMarker.size() ? cap : 0;
}

std::string cut_to(const std::string& body, size_t cap) {
  if (body.size() <= cap) return body;
  if (cap < kCutMarker.size()) return {};
  const size_t keep = cap - kCutMarker.size();
  size_t head = (keep + 1) / 2;
  while (head > 0 && is_continuation(body[head])) --head;
  size_t tail_start = body.size() - keep / 2;
  while (tail_start < body.size() && is_continuation(body[tail_start])) ++tail_start;
  return body.substr(0, head) + std::string(kCutMarker) + body.substr(tail_start);
}

}  // namespace

size_t estimate_tokens(std::string_view text) { return (text.size() + 3) / 4; }

std::vector<std::string> fit_texts(std::vector<std::string> texts, size_t max_chars) {
  size_t total = 0;
  for (const auto& t : texts) total += t.size();
  if (total <= max_chars) return texts;
  std::vector<Piece> pieces;
  for (size_t i = 0; i < texts.size(); ++i) split(i, texts[i], pieces);
  size_t tags = 0;
  size_t longest = 0;
  for (const Piece& p : pieces) {
    if (p.is_tag) {
      tags += p.body.size();
    } else {
      longest = std::max(longest, p.body.size());
    }
  }
  auto size_under = [&](size_t cap) {
    size_t sum = tags;
    for (const Piece& p : pieces) {
      if (!p.is_tag) sum += capped(p.body.size(), cap);
    }
    return sum;
  };
  // The largest cap that fits; size_under is non-decreasing in cap.
  size_t low = 0;
  size_t high = longest;
  while (low < high) {
    size_t mid = low + (high - low + 1) / 2;
    if (size_under(mid) <= max_chars) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  for (auto& t : texts) t.clear();
  for (const Piece& p : pieces) texts[p.text] += p.is_tag ? p.body : cut_to(p.body, low);
  return texts;
}

std::string fit_text(std::string text, size_t max_chars) {
  return std::move(fit_texts({std::move(text)}, max_chars).front());
}

}  // namespace tg
