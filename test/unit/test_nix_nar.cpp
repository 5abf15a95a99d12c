// NAR serialisation: hand-written golden bytes for tiny trees, and byte-for-byte
// equality with `nix-store --dump` for a tree with every kind of entry.
#include "core/error.hpp"
#include "core/io.hpp"
#include "core/process.hpp"
#include "nix/nar.hpp"
#include "nix_test_util.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <sys/stat.h>
#include <unistd.h>

using namespace fedi;
using namespace fedi::nix;
using namespace fedi::nix::test;

namespace {

const std::string nar_magic = "0d00000000000000 6e69782d617263686976652d31 000000";
const std::string open_paren = "0100000000000000 2800000000000000";
const std::string close_paren = "0100000000000000 2900000000000000";
const std::string type_word = "0400000000000000 7479706500000000";

std::string nix_store_dump(const std::string& path) {
    auto r = run_process({"nix-store", "--dump", path});
    if (!r.ok())
        throw Error("nix-store --dump failed: " + r.err);
    return r.out;
}

std::string dump(const std::string& path) {
    StringSink s;
    dump_nar(path, s);
    return s.data;
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(rng());
    return s;
}

} // namespace

TEST_CASE("nar: a small regular file has the spec's bytes") {
    TempDir dir;
    write_file(dir / "f", "hi");
    ::chmod((dir / "f").c_str(), 0644);
    CHECK(to_hex(dump(dir / "f")) == to_hex(from_hex(hi_file_nar_hex)));
}

TEST_CASE("nar: an executable file and a symlink have the spec's bytes") {
    TempDir dir;
    write_file(dir / "x", "");
    ::chmod((dir / "x").c_str(), 0755);
    CHECK(
        to_hex(dump(dir / "x")) ==
        to_hex(from_hex(nar_magic + open_paren + type_word +
                        "0700000000000000 726567756c617200"                  // "regular"
                        "0a00000000000000 65786563757461626c65 000000000000" // "executable" + 6 pad
                        "0000000000000000"                                   // ""
                        "0800000000000000 636f6e74656e7473"                  // "contents"
                        "0000000000000000"                                   // empty contents
                        + close_paren)));
    REQUIRE(::symlink("a/b", (dir / "l").c_str()) == 0);
    CHECK(to_hex(dump(dir / "l")) ==
          to_hex(from_hex(nar_magic + open_paren + type_word +
                          "0700000000000000 73796d6c696e6b00" // "symlink"
                          "0600000000000000 7461726765740000" // "target"
                          "0300000000000000 612f620000000000" // "a/b"
                          + close_paren)));
}

TEST_CASE("nar: a tree matches nix-store --dump byte for byte") {
    TempDir dir;
    std::string root = dir / "tree";
    std::filesystem::create_directories(root + "/nested/deeper/deepest");
    std::filesystem::create_directories(root + "/empty-dir");
    write_file(root + "/regular", "plain contents\n");
    write_file(root + "/exec", "#!/bin/sh\necho hi\n");
    ::chmod((root + "/exec").c_str(), 0755);
    write_file(root + "/user-x-only", "x");
    ::chmod((root + "/user-x-only").c_str(), 0700);
    write_file(root + "/group-x-only", "not executable for Nix");
    ::chmod((root + "/group-x-only").c_str(), 0655);
    write_file(root + "/empty", "");
    write_file(root + "/nested/deeper/deepest/file", "deep");
    write_file(root + "/seven77", "1234567"); // 7 bytes: 1 byte of padding
    write_file(root + "/eight888", "12345678");
    REQUIRE(::symlink("nested/deeper", (root + "/link-to-dir").c_str()) == 0);
    REQUIRE(::symlink("/nonexistent/target", (root + "/dangling").c_str()) == 0);
    REQUIRE(::symlink(std::string(300, 'y').c_str(), (root + "/long-target").c_str()) == 0);
    // Bytewise order differs from a locale's: "B" < "a" < "a-b" < "a.b" < "ab" < "é".
    for (const char* name : {"a", "B", "ab", "a.b", "a-b", "_u", "Z", "\xc3\xa9", "z"})
        write_file(root + "/nested/" + name, name);

    auto ours = dump(root);
    auto theirs = nix_store_dump(root);
    CHECK(ours.size() == theirs.size());
    CHECK(ours == theirs);
    CHECK(nar_size(root) == theirs.size());

    // Each single entry too (a file, a symlink, a subdirectory as the root).
    for (const char* rel : {"/exec", "/dangling", "/nested", "/empty-dir", "/empty"}) {
        INFO(rel);
        CHECK(dump(root + rel) == nix_store_dump(root + rel));
    }
}

TEST_CASE("nar: a file over 1 MiB streams in bounded chunks and matches nix-store --dump") {
    TempDir dir;
    std::string root = dir / "big";
    std::filesystem::create_directories(root);
    const std::size_t size = 3 * 1024 * 1024 + 5; // odd size: padding after the contents
    write_file(root + "/blob", random_bytes(size, 42));

    struct Recorder : Sink {
        std::string data;
        std::size_t largest_write = 0;
        void write(const char* b, std::size_t n) override {
            largest_write = std::max(largest_write, n);
            data.append(b, n);
        }
        using Sink::write;
    } rec;
    dump_nar(root, rec);
    CHECK(rec.largest_write <= 1024 * 1024); // never the whole file in one piece
    CHECK(rec.data == nix_store_dump(root));
    CHECK(nar_size(root) == rec.data.size());
}

TEST_CASE("nar: unsupported files and missing paths are errors naming the file") {
    TempDir dir;
    std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    StringSink s;
    CHECK_THROWS_WITH(dump_nar(fifo, s),
                      Catch::Contains(fifo) && Catch::Contains("unsupported type"));
    CHECK_THROWS_WITH(dump_nar(dir / "missing", s), Catch::Contains(dir / "missing"));
}
