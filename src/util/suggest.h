// "Did you mean ...?" for mistyped names (engines, tasks, metrics).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tg::util {

// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`, ignoring
// ASCII case.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `name` when it is near enough to be a likely typo (at most one edit
// per three characters of `name`, and at least one; a difference of case alone counts as
// near); the first of equally near candidates; nullopt when none is near or `name` is itself a
// candidate.
std::optional<std::string> closest_name(std::string_view name,
                                        const std::vector<std::string>& candidates);

}  // namespace tg::util
