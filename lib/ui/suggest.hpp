#pragma once
// "Did you mean": the closest known word to a mistyped one, by edit distance.
#include <optional>
#include <string>
#include <vector>

namespace fedi::ui {

// Levenshtein distance, with a transposition of two neighbours counting as one edit
// (optimal string alignment), since swapped letters are the commonest typo.
std::size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word` when it is close enough to be what was meant: at most
// one edit for short words, about a third of the word's length for longer ones. Ties go
// to the earlier candidate.
std::optional<std::string> closest_match(const std::string& word,
                                         const std::vector<std::string>& candidates);

} // namespace fedi::ui
