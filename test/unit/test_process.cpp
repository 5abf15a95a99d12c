#include "core/error.hpp"
#include "core/process.hpp"

#include <catch2/catch.hpp>

using namespace fedi;

TEST_CASE("run_process captures stdout, stderr and exit code") {
    auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
    CHECK(r.exit_code == 3);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
}

TEST_CASE("run_process feeds stdin and streams stderr lines") {
    std::vector<std::string> lines;
    ProcessOptions opts;
    opts.stdin_data = "secret-from-stdin";
    opts.on_stderr_line = [&](const std::string& l) { lines.push_back(l); };
    auto r = run_process({"sh", "-c", "cat; echo a >&2; echo b >&2"}, opts);
    CHECK(r.ok());
    CHECK(r.out == "secret-from-stdin");
    CHECK(lines == std::vector<std::string>{"a", "b"});
}

TEST_CASE("run_process reports a missing program as an error") {
    CHECK_THROWS_WITH(run_process({"fedi-no-such-program-xyz"}),
                      Catch::Contains("cannot run fedi-no-such-program-xyz"));
}

TEST_CASE("ChildProcess is a duplex stream") {
    ChildProcess child({"sh", "-c", "read x; echo got:$x; echo warn >&2"});
    child.write(std::string_view("hello\n"));
    child.flush();
    char buf[64];
    std::string got;
    std::size_t n;
    while ((n = child.read_some(buf, sizeof buf)) > 0)
        got.append(buf, n);
    CHECK(child.wait() == 0);
    CHECK(got == "got:hello\n");
    CHECK(child.stderr_text() == "warn\n");
}

TEST_CASE("shell_quote survives the shell") {
    std::string tricky = "a b'c\"$HOME;`x`";
    auto r = run_process({"sh", "-c", "printf %s " + shell_quote(tricky)});
    CHECK(r.out == tricky);
    CHECK(shell_quote("plain-word_1.2") == "plain-word_1.2");
}
