// The serve protocol client against a real `nix-store --serve --write`, writing into a
// separate chroot store (--store DIR) so the machine's own store is left alone.
#include "core/error.hpp"
#include "core/process.hpp"
#include "nix/serve.hpp"
#include "nix/store.hpp"
#include "nix_test_util.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <numeric>

using namespace fedi;
using namespace fedi::nix;
using namespace fedi::nix::test;

namespace {

// A `nix-store --serve` child whose stderr is attached to errors.
struct Remote {
    explicit Remote(const std::vector<std::string>& argv) : child(argv) {
        ignore_sigpipe();
        options.serve.remote_name = "test-target";
        options.serve.remote_stderr = [this] {
            child.wait();
            return child.stderr_text();
        };
    }
    static Remote serve(const std::string& store, bool write = true) {
        std::vector<std::string> argv = {"nix-store", "--serve"};
        if (write)
            argv.push_back("--write");
        argv.insert(argv.end(), {"--store", store});
        return Remote(argv);
    }
    ChildProcess child;
    PushOptions options;
};

// Records every byte we send.
struct Tee : Sink {
    explicit Tee(Sink& s) : inner(s) {}
    void write(const char* b, std::size_t n) override {
        data.append(b, n);
        inner.write(b, n);
    }
    using Sink::write;
    void flush() override { inner.flush(); }
    Sink& inner;
    std::string data;
};

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

std::vector<std::string> closure_paths(const std::string& root) {
    return lines(run_ok({"nix-store", "-qR", root}).out);
}

// Every path of the closure of `root` is valid in `store` (contents re-hashed against
// what was registered) and registered with the same hash, size, deriver and references
// as in the local store.
void check_copied(const std::string& store, const std::string& root) {
    auto paths = closure_paths(root);
    for (const auto& p : paths) {
        INFO(p);
        CHECK(std::filesystem::exists(store + p)); // really in the chroot store
        CHECK(run_process({"nix-store", "--store", store, "--verify-path", p}).ok());
        CHECK(run_ok({"nix-store", "--store", store, "-q", "--references", p}).out ==
              run_ok({"nix-store", "-q", "--references", p}).out);
    }
    std::vector<std::string> local = {"nix-store", "--dump-db"};
    local.insert(local.end(), paths.begin(), paths.end());
    auto remote = local;
    remote.insert(remote.begin() + 1, {"--store", store});
    CHECK(run_ok(remote).out == run_ok(local).out);
}

std::uint64_t sum_nar_sizes(const std::vector<std::string>& paths) {
    std::uint64_t n = 0;
    for (const auto& p : paths)
        n += run_ok({"nix-store", "--dump", p}).out.size();
    return n;
}

// Bytes of a handshake, the empty QueryValidPaths that times a round trip, and one
// QueryValidPaths for `paths`, from the spec.
std::size_t handshake_and_query_bytes(const std::vector<std::string>& paths) {
    std::size_t n = 16 + (8 * 3 + 8) + 8 * 3 + 8;
    for (const auto& p : paths)
        n += 8 + (p.size() + 7) / 8 * 8;
    return n;
}

void push_twice_then_change(TransferMethod method) {
    TempDir dir;
    std::string store = dir / "target";
    auto v1 = nix_build(dir, "v1", test_closure_expr);
    auto v1_paths = closure_paths(v1);
    REQUIRE(v1_paths.size() == 3);

    {
        auto remote = Remote::serve(store);
        remote.options.method = method;
        std::vector<std::pair<std::uint64_t, std::size_t>> calls;
        auto stats = push_closure(
            remote.child, remote.child, {v1},
            [&](std::uint64_t bytes, std::size_t paths) { calls.emplace_back(bytes, paths); },
            remote.options);
        CHECK(stats.paths_total == 3);
        CHECK(stats.paths_sent == 3);
        CHECK(stats.nar_bytes == sum_nar_sizes(v1_paths));
        CHECK(stats.bytes_sent > stats.nar_bytes + handshake_and_query_bytes(v1_paths));
        REQUIRE(!calls.empty());
        CHECK(calls.back() == std::make_pair(stats.bytes_sent, std::size_t{3}));
        for (std::size_t i = 1; i < calls.size(); ++i)
            CHECK(calls[i - 1].first <= calls[i].first);
        CHECK(remote.child.wait() == 0);
    }
    check_copied(store, v1);

    SECTION("a second push sends no path and no transfer command") {
        auto remote = Remote::serve(store);
        remote.options.method = method;
        Tee tee(remote.child);
        auto stats = push_closure(remote.child, tee, {v1}, {}, remote.options);
        CHECK(stats.paths_total == 3);
        CHECK(stats.paths_sent == 0);
        CHECK(stats.nar_bytes == 0);
        // Only the handshake and one QueryValidPaths went out.
        CHECK(tee.data.size() == handshake_and_query_bytes(v1_paths));
        CHECK(stats.bytes_sent == tee.data.size());
        CHECK(tee.data.substr(16, 8) == std::string("\x01\0\0\0\0\0\0\0", 8));
        CHECK(remote.child.wait() == 0);
    }

    SECTION("a changed closure sends only the new paths") {
        auto v2 = nix_build(dir, "v2", test_closure_expr,
                            {"--argstr", "salt", "2", "--arg", "extra", "true"});
        auto v2_paths = closure_paths(v2);
        REQUIRE(v2_paths.size() == 4); // a, b, c-2, d
        auto remote = Remote::serve(store);
        remote.options.method = method;
        auto stats = push_closure(remote.child, remote.child, {v2}, {}, remote.options);
        CHECK(stats.paths_total == 4);
        CHECK(stats.paths_sent == 2);
        std::vector<std::string> fresh;
        for (const auto& p : v2_paths)
            if (std::find(v1_paths.begin(), v1_paths.end(), p) == v1_paths.end())
                fresh.push_back(p);
        REQUIRE(fresh.size() == 2);
        CHECK(stats.nar_bytes == sum_nar_sizes(fresh));
        CHECK(remote.child.wait() == 0);
        check_copied(store, v2);
        check_copied(store, v1);
    }
}

std::vector<PathInfo> closure_infos(const TempDir& dir) {
    return query_closure({nix_build(dir, "closure", test_closure_expr)});
}

} // namespace

TEST_CASE("nix serve: push with AddToStoreNar into a real nix-store --serve --write") {
    push_twice_then_change(TransferMethod::AddToStoreNar);
}

TEST_CASE("nix serve: push with ImportPaths into a real nix-store --serve --write") {
    push_twice_then_change(TransferMethod::ImportPaths);
}

TEST_CASE("nix serve: the real server negotiates and answers queries") {
    TempDir dir;
    auto infos = closure_infos(dir);
    auto remote = Remote::serve(dir / "target");
    ServeClient client(remote.child, remote.child, remote.options.serve);
    client.handshake();
    CHECK(client.remote_version() >= 0x205);
    CHECK(client.version() == std::min<std::uint64_t>(client.remote_version(), 0x207));
    std::set<std::string> all;
    for (const auto& i : infos)
        all.insert(i.path);
    CHECK(client.query_valid_paths(all).empty());
    auto stats = client.add_paths({infos[0]});
    CHECK(stats.paths_sent == 1);
    CHECK(client.query_valid_paths(all) == std::set<std::string>{infos[0].path});
}

TEST_CASE("nix serve: thousands of pipelined AddToStoreNar commands do not deadlock") {
    // More commands than replies allowed in flight: the same (tiny) path again and
    // again; the target drains the NAR of a path it already has and answers 1.
    TempDir dir;
    auto infos = closure_infos(dir);
    std::vector<PathInfo> many(3000, infos[0]);
    auto remote = Remote::serve(dir / "target");
    ServeClient client(remote.child, remote.child, remote.options.serve);
    auto stats = client.add_paths(many, {}, TransferMethod::AddToStoreNar);
    CHECK(stats.paths_sent == 3000);
    CHECK(stats.nar_bytes == 3000 * infos[0].nar_size);
    CHECK(client.query_valid_paths({infos[0].path}).size() == 1);
}

namespace {

// Pushes 1000 paths of 4 KB to a scripted target that answers every command at once,
// noting how much had been sent each time the client read (waited for the target):
// never more than `bound` plus one command beyond what the replies so far acknowledged.
void check_unacked_bound(const ServeOptions& options, std::size_t bound) {
    TempDir dir;
    auto blob = nix_build(dir, "blob", R"nix({}: derivation {
      name = "fedi-test-blob-4k";
      system = builtins.currentSystem;
      builder = "/bin/sh";
      args = [ "-c" "PATH=/usr/bin:/bin; head -c 4000 /dev/zero > $out" ];
    })nix");
    const auto info = query_closure({blob}).at(0);
    const std::size_t count = 1000;
    std::string replies = from_hex("cbee525400000000 0702000000000000");
    for (std::size_t i = 0; i < count; ++i)
        replies += from_hex("0100000000000000");
    struct Recording : Source {
        StringSource inner;
        const StringSink& sent;
        std::vector<std::size_t> sent_at_read;
        Recording(const std::string& s, const StringSink& to) : inner(s), sent(to) {}
        std::size_t read_some(char* buf, std::size_t n) override {
            sent_at_read.push_back(sent.data.size());
            return inner.read_some(buf, std::min<std::size_t>(n, 8));
        }
    };
    StringSink to;
    Recording from(replies, to);
    ServeClient client(from, to, options);
    std::vector<PathInfo> many(count, info);
    auto stats = client.add_paths(many, {}, TransferMethod::AddToStoreNar);
    CHECK(stats.paths_sent == count);
    // Bytes per command: its header and the NAR.
    std::size_t per_path = (to.data.size() - 16) / count;
    REQUIRE(per_path * count + 16 == to.data.size());
    REQUIRE(per_path * count > 2 * bound);
    // Reads after the handshake (two 8-byte reads).
    std::vector<std::size_t> reads(from.sent_at_read.begin() + 2, from.sent_at_read.end());
    REQUIRE(reads.size() == count);
    CHECK(reads.front() >= 16 + bound);
    for (std::size_t k = 0; k < reads.size(); ++k) {
        INFO("reply " << k);
        CHECK(reads[k] <= 16 + (k + 1) * per_path + bound + per_path);
    }
}

} // namespace

TEST_CASE("nix serve: AddToStoreNar waits for replies once 512 KiB are unacknowledged") {
    check_unacked_bound({}, 512 * 1024);
}

TEST_CASE("nix serve: a longer network round trip allows more in flight") {
    // 64 MB per second of round trip: what a target imports meanwhile.
    ServeOptions options;
    options.network_round_trip = std::chrono::milliseconds(20);
    check_unacked_bound(options, 1280000);
}

TEST_CASE("nix serve: a read-only server's refusal reaches the caller with its stderr") {
    TempDir dir;
    auto root = nix_build(dir, "closure", test_closure_expr);
    auto remote = Remote::serve(dir / "target", /*write=*/false);
    try {
        push_closure(remote.child, remote.child, {root}, {}, remote.options);
        FAIL("push to a read-only server succeeded");
    } catch (const Error& e) {
        CHECK_THAT(e.message(), Catch::Contains("nix-store --serve on test-target") &&
                                    Catch::Contains("importing paths is not allowed"));
    }
}

TEST_CASE("nix serve: the target refuses a NAR that does not match its hash") {
    TempDir dir;
    auto infos = closure_infos(dir);
    auto bad = infos[0];
    bad.nar_hash = std::string(64, '0');
    auto remote = Remote::serve(dir / "target");
    ServeClient client(remote.child, remote.child, remote.options.serve);
    CHECK_THROWS_WITH(client.add_paths({bad}, {}, TransferMethod::AddToStoreNar),
                      Catch::Contains("hash mismatch") && Catch::Contains(bad.path));
    CHECK_THROWS_WITH(client.query_valid_paths({bad.path}), Catch::Contains("unusable"));
}

TEST_CASE("nix serve: a path that changed size locally is reported as ours, not the remote's") {
    TempDir dir;
    auto infos = closure_infos(dir);
    auto bad = infos[0];
    bad.nar_size += 8;
    auto remote = Remote::serve(dir / "target");
    ServeClient client(remote.child, remote.child, remote.options.serve);
    try {
        client.add_paths({bad});
        FAIL("a NAR of the wrong size was sent");
    } catch (const Error& e) {
        CHECK_THAT(e.message(), Catch::Contains("changed on disk") && Catch::Contains(bad.path));
        CHECK_THAT(e.message(), !Catch::Contains("remote stderr"));
    }
}

TEST_CASE("nix serve: a remote without Nix is a clear error") {
    Remote remote({"sh", "-c", "echo 'sh: 1: nix-store: not found' >&2; exit 127"});
    TempDir dir;
    auto root = nix_build(dir, "closure", test_closure_expr);
    try {
        push_closure(remote.child, remote.child, {root}, {}, remote.options);
        FAIL("push to a remote without nix-store succeeded");
    } catch (const Error& e) {
        // Closed or broken, depending on whether our write or read notices first.
        CHECK_THAT(e.message(),
                   Catch::Contains("nix-store --serve on test-target: the connection") &&
                       Catch::Contains("during the handshake") &&
                       Catch::Contains("nix-store: not found"));
    }
}
