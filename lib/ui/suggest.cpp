#include "ui/suggest.hpp"

#include <algorithm>

namespace fedi::ui {

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i)
        d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j)
        d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

std::optional<std::string> closest_match(const std::string& word,
                                         const std::vector<std::string>& candidates) {
    // Leading dashes are not letters a person mistypes: compare what follows them.
    auto bare = [](const std::string& s) {
        return s.substr(std::min(s.find_first_not_of('-'), s.size()));
    };
    std::string w = bare(word);
    if (w.empty())
        return std::nullopt;
    std::size_t limit = std::max<std::size_t>(1, w.size() / 3);
    std::optional<std::string> best;
    std::size_t best_distance = limit + 1;
    for (const auto& c : candidates) {
        std::size_t d = edit_distance(w, bare(c));
        if (d < best_distance && d < bare(c).size()) {
            best = c;
            best_distance = d;
        }
    }
    return best;
}

} // namespace fedi::ui
