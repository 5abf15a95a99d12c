#include "core/error.hpp"
#include "core/process.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

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

TEST_CASE("run_process runs a bounded number of children however many threads call it") {
    // Each child marks itself live in a directory and notes how many are live with it:
    // seen from outside, not through fedi's own counter.
    char tmpl[] = "/tmp/fedi-jobs-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    const int callers = 48;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < callers; ++i)
        threads.emplace_back([&, i] {
            auto r = run_process({"sh", "-c",
                                  "d=$0; touch $d/live.$1; sleep 0.05; ls $d | grep -c '^live' "
                                  ">> $d/seen.$1; rm $d/live.$1",
                                  dir, std::to_string(i)});
            if (r.ok())
                ++ok;
        });
    for (auto& t : threads)
        t.join();
    CHECK(ok == callers);
    int most = 0;
    for (int i = 0; i < callers; ++i) {
        std::ifstream in(dir + "/seen." + std::to_string(i));
        int n = 0;
        in >> n;
        most = std::max(most, n);
    }
    CHECK(most >= 1);
    CHECK(most <= local_job_limit());
    CHECK(local_job_limit() >= 1);
    CHECK(local_job_limit() <= 16);
    std::filesystem::remove_all(dir);
}
