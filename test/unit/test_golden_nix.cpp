// Golden files for the Nix wire formats fedi writes: a whole serve-protocol push
// (handshake, the valid-paths queries, AddToStoreNar frames or the ImportPaths export
// stream) and a NAR. The paths pushed are builtins.toFile paths, the same on every
// machine; the server's side is composed from the protocol's description and pinned too.
// A replay of the server's side cut short at every length must be a clear error.
#include "core/error.hpp"
#include "core/io.hpp"
#include "golden.hpp"
#include "nix/nar.hpp"
#include "nix/serve.hpp"
#include "nix/store.hpp"
#include "nix/wire.hpp"
#include "nix_test_util.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace fedi;
using namespace fedi::nix;
using fedi::nix::test::run_ok;
using fedi::nix::test::TempDir;
using fedi::test::check_golden;

namespace {

// Two store paths made by builtins.toFile (b refers to a), rooted in `dir` so that a
// garbage collection meanwhile keeps them. Their names and hashes are the same wherever
// the store is /nix/store.
std::string golden_closure(const TempDir& dir) {
    auto out = run_ok({"nix-instantiate", "--eval", "--read-write-mode", "-E",
                       "let a = builtins.toFile \"fedi-golden-a\" \"hi\\n\"; in "
                       "builtins.toFile \"fedi-golden-b\" \"see ${a}\\n\""})
                   .out;
    auto b = out.substr(out.find('"') + 1, out.rfind('"') - out.find('"') - 1);
    run_ok({"nix-store", "--realise", b, "--add-root", dir / "root"});
    return b;
}

// What a target that has none of the paths answers: its hello, no path for the probe,
// none for the query, then `acks` transfer replies.
std::string server_replies(int acks) {
    StringSink s;
    write_u64(s, serve_magic_server);
    write_u64(s, 0x207);
    write_strings(s, std::vector<std::string>{}); // the probe
    write_strings(s, std::vector<std::string>{}); // the real query
    for (int i = 0; i < acks; ++i)
        write_u64(s, 1);
    return s.data;
}

std::string push(LocalClosure& closure, const std::string& replies, TransferMethod method) {
    StringSource from(replies);
    StringSink to;
    PushOptions options;
    options.serve.remote_name = "golden-target";
    options.method = method;
    push_closure(from, to, closure, {}, options);
    return to.data;
}

} // namespace

TEST_CASE("golden: a serve-protocol push, byte for byte", "[golden]") {
    TempDir dir("fedi-golden");
    LocalClosure closure({golden_closure(dir)});
    SECTION("AddToStoreNar") {
        auto replies = server_replies(2);
        check_golden("nix/serve-push-add-to-store-nar.server.bin", replies);
        check_golden("nix/serve-push-add-to-store-nar.client.bin",
                     push(closure, replies, TransferMethod::AddToStoreNar));
    }
    SECTION("ImportPaths: the export stream") {
        auto replies = server_replies(1);
        check_golden("nix/serve-push-import-paths.server.bin", replies);
        check_golden("nix/serve-push-import-paths.client.bin",
                     push(closure, replies, TransferMethod::ImportPaths));
    }
}

TEST_CASE("golden: a serve-protocol replay cut short at every length is a clear error",
          "[golden]") {
    TempDir dir("fedi-golden");
    LocalClosure closure({golden_closure(dir)});
    for (auto [name, method] :
         {std::pair{"nix/serve-push-add-to-store-nar.server.bin", TransferMethod::AddToStoreNar},
          std::pair{"nix/serve-push-import-paths.server.bin", TransferMethod::ImportPaths}}) {
        auto replies = fedi::test::read_golden(name);
        CHECK_NOTHROW(push(closure, replies, method));
        for (std::size_t n = 0; n < replies.size(); ++n) {
            INFO(name << " cut to " << n << " bytes");
            try {
                push(closure, replies.substr(0, n), method);
                FAIL("a push with a cut-short reply succeeded");
            } catch (const Error& e) {
                CHECK_THAT(e.message(), Catch::StartsWith("nix-store --serve on golden-target: "
                                                          "the connection was closed during "));
            }
        }
    }
}

TEST_CASE("golden: a NAR of a tree with every kind of entry, as nix-store --dump writes it",
          "[golden]") {
    TempDir dir("fedi-golden");
    auto top = dir / "tree";
    std::filesystem::create_directories(top + "/sub/deeper");
    fedi::nix::test::write_file(top + "/hello", "#!/bin/sh\necho hello\n");
    ::chmod((top + "/hello").c_str(), 0755);
    fedi::nix::test::write_file(top + "/empty", "");
    fedi::nix::test::write_file(top + "/sub/deeper/text", std::string(13, 'x'));
    std::filesystem::create_symlink("../hello", top + "/sub/link");
    StringSink nar;
    dump_nar(top, nar);
    CHECK(nar.data == run_ok({"nix-store", "--dump", top}).out);
    check_golden("nix/tree.nar", nar.data);
}
