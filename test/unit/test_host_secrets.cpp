// The secret sync script, run for real by /bin/sh on a scratch directory (the same
// script fedi sends to machines, with the directory swapped).
#include "core/error.hpp"
#include "core/process.hpp"
#include "host/secrets.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace fedi;
namespace fs = std::filesystem;

namespace {

fs::path scratch() {
    char tmpl[] = "/tmp/fedi-secrets-test-XXXXXX";
    return fs::path(mkdtemp(tmpl)) / "secrets";
}

host::SecretSyncResult sync(const fs::path& dir, const std::vector<host::SecretFile>& files) {
    ProcessOptions o;
    o.stdin_data = host::secret_sync_stream(files);
    auto r = run_process({"sh", "-c", host::secret_sync_script(dir.string())}, o);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return host::parse_secret_sync_output(r.out);
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

host::SecretFile secret(std::string name, std::string content, unsigned mode = 0400) {
    host::SecretFile f;
    f.name = std::move(name);
    f.content = std::move(content);
    f.mode = mode;
    f.origin = "test." + f.name;
    return f;
}

} // namespace

TEST_CASE("secret sync writes exact bytes and modes, then reports nothing to do") {
    auto dir = scratch();
    std::string binary("line1\nline2 with spaces\n\0\xff tail", 30);
    auto a = secret("a.env", "AWS_ACCESS_KEY_ID=GK1\nAWS_SECRET_ACCESS_KEY=s3cr3t\n");
    auto b = secret("b.bin", binary, 0440);
    auto empty = secret("empty", "", 0600);
    auto first = sync(dir, {a, b, empty});
    CHECK(first.written == std::vector<std::string>{"a.env", "b.bin", "empty"});
    CHECK(read(dir / "a.env") == a.content);
    CHECK(read(dir / "b.bin") == binary);
    CHECK(read(dir / "empty").empty());
    struct stat st;
    REQUIRE(stat((dir / "b.bin").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0440);
    REQUIRE(stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);

    auto second = sync(dir, {a, b, empty});
    CHECK(second.written.empty());
    CHECK(second.unchanged.size() == 3);

    b.mode = 0400;
    auto third = sync(dir, {a, b, empty});
    CHECK(third.written == std::vector<std::string>{"b.bin"});
}

TEST_CASE("secret sync removes what is no longer declared and leaves no temporary file") {
    auto dir = scratch();
    sync(dir, {secret("keep", "1"), secret("drop", "2")});
    auto r = sync(dir, {secret("keep", "1")});
    CHECK(r.removed == std::vector<std::string>{"drop"});
    CHECK(!fs::exists(dir / "drop"));
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    CHECK(names == std::vector<std::string>{"keep"});
}

TEST_CASE("secret sync falls back to root for an owner that does not exist yet") {
    // chown needs root; CI runs the suite as root (test hosts need namespaces too).
    REQUIRE(geteuid() == 0);
    auto dir = scratch();
    auto f = secret("svc.env", "x");
    f.owner = "fedi-no-such-user";
    auto r = sync(dir, {f});
    CHECK(r.pending_owner == std::vector<std::string>{"svc.env"});
    struct stat st;
    REQUIRE(stat((dir / "svc.env").c_str(), &st) == 0);
    CHECK(st.st_uid == 0);
    f.owner = "nobody";
    auto again = sync(dir, {f});
    CHECK(again.pending_owner.empty());
    CHECK(again.written == std::vector<std::string>{"svc.env"});
    REQUIRE(stat((dir / "svc.env").c_str(), &st) == 0);
    CHECK(st.st_uid != 0);
}

TEST_CASE("secret names, owners and modes are checked before anything is sent") {
    CHECK_THROWS_WITH(host::secret_sync_stream({secret("../etc/passwd", "x")}),
                      Catch::Contains("test.../etc/passwd") &&
                          Catch::Contains("invalid secret file name"));
    auto f = secret("ok", "x");
    f.owner = "root; rm -rf /";
    CHECK_THROWS_WITH(host::secret_sync_stream({f}), Catch::Contains("invalid owner"));
    CHECK_THROWS_WITH(host::secret_sync_stream({secret("same", "1"), secret("same", "2")}),
                      Catch::Contains("same file"));
    // The content never appears in the stream in clear text.
    CHECK(host::secret_sync_stream({secret("k", "hunter2")}).find("hunter2") == std::string::npos);
}
