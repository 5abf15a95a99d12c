#include "ui/suggest.hpp"

#include <catch2/catch.hpp>

using namespace fedi::ui;

TEST_CASE("edit_distance counts insertions, deletions, substitutions and swaps") {
    CHECK(edit_distance("deploy", "deploy") == 0);
    CHECK(edit_distance("deply", "deploy") == 1);   // deletion
    CHECK(edit_distance("deplooy", "deploy") == 1); // insertion
    CHECK(edit_distance("deplox", "deploy") == 1);  // substitution
    CHECK(edit_distance("deplyo", "deploy") == 1);  // neighbours swapped
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("closest_match suggests what was meant and nothing far off") {
    std::vector<std::string> subs = {"deploy", "eval", "status", "rollback", "exec", "account"};
    CHECK(closest_match("deplyo", subs) == std::optional<std::string>("deploy"));
    CHECK(closest_match("staus", subs) == std::optional<std::string>("status"));
    CHECK(closest_match("exce", subs) == std::optional<std::string>("exec"));
    CHECK_FALSE(closest_match("zzzzzz", subs));
    CHECK_FALSE(closest_match("", subs));
    // The nearest wins, whatever the order.
    CHECK(closest_match("evak", {"exec", "eval"}) == std::optional<std::string>("eval"));
}

TEST_CASE("closest_match compares options without their dashes") {
    std::vector<std::string> opts = {"--parallel", "--json", "-q", "--quiet", "-v", "--yes"};
    CHECK(closest_match("--paralel", opts) == std::optional<std::string>("--parallel"));
    CHECK(closest_match("--jsno", opts) == std::optional<std::string>("--json"));
    CHECK(closest_match("-quiet", opts) == std::optional<std::string>("--quiet"));
    // A one-letter option is not guessed from another letter.
    CHECK_FALSE(closest_match("-x", opts));
}
