#include "ui/output.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>

using namespace fedi::ui;

TEST_CASE("fit_to_width cuts a line to the terminal's columns, not its bytes") {
    CHECK(fit_to_width("web  pushing", 40) == "web  pushing");
    CHECK(fit_to_width("web  pushing", 5) == "web  ");
    CHECK(fit_to_width("abc", 3) == "abc");
    CHECK(fit_to_width("abc", 0) == "");
    // "é" is two bytes, one column; a character is never split.
    CHECK(fit_to_width("caf\xc3\xa9 au lait", 4) == "caf\xc3\xa9");
    CHECK(fit_to_width("caf\xc3\xa9", 3) == "caf");
}

TEST_CASE("terminal_columns falls back to COLUMNS, then 80, off a terminal") {
    FILE* file = std::tmpfile();
    int fd = fileno(file);
    setenv("COLUMNS", "33", 1);
    CHECK(terminal_columns(fd) == 33);
    setenv("COLUMNS", "wide", 1);
    CHECK(terminal_columns(fd) == 80);
    unsetenv("COLUMNS");
    CHECK(terminal_columns(fd) == 80);
    std::fclose(file);
}
