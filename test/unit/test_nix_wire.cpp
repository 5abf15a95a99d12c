// Golden bytes for the serve protocol framing and handshake. Expected bytes are written
// by hand from the spec (u64 little-endian; strings padded with zeros to 8 bytes), not
// produced by the code under test.
#include "core/error.hpp"
#include "core/io.hpp"
#include "nix/serve.hpp"
#include "nix/wire.hpp"
#include "nix_test_util.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace fedi;
using namespace fedi::nix;
using fedi::nix::test::from_hex;
using fedi::nix::test::to_hex;

namespace {
std::string hex_of(const std::string& hex) {
    return to_hex(from_hex(hex));
}
} // namespace

TEST_CASE("nix wire: integers, bools and strings have the spec's bytes") {
    StringSink s;
    write_u64(s, 0x390c9deb);
    write_u64(s, 0);
    write_u64(s, 0x0102030405060708);
    write_bool(s, true);
    write_bool(s, false);
    write_string(s, "");
    write_string(s, "abc");
    write_string(s, "12345678");
    write_string(s, "nix-archive-1");
    write_strings(s, std::vector<std::string>{"a", "bc"});
    write_strings(s, std::set<std::string>{"bc", "a"}); // a set goes out in order
    CHECK(to_hex(s.data) == hex_of("eb9d0c3900000000"
                                   "0000000000000000"
                                   "0807060504030201"
                                   "0100000000000000"
                                   "0000000000000000"
                                   "0000000000000000"                   // ""
                                   "0300000000000000 616263 0000000000" // "abc" + 5 pad
                                   "0800000000000000 3132333435363738"  // no padding
                                   "0d00000000000000 6e69782d617263686976652d31 000000"
                                   "0200000000000000"
                                   "0100000000000000 6100000000000000"
                                   "0200000000000000 6263000000000000"
                                   "0200000000000000"
                                   "0100000000000000 6100000000000000"
                                   "0200000000000000 6263000000000000"));
}

TEST_CASE("nix wire: hand-written bytes read back") {
    auto bytes = from_hex("0807060504030201"
                          "0100000000000000"
                          "0300000000000000 616263 0000000000"
                          "0200000000000000"
                          "0100000000000000 6100000000000000"
                          "0000000000000000"
                          "ffffffffffffffff");
    StringSource src(bytes);
    CHECK(read_u64(src) == 0x0102030405060708);
    CHECK(read_bool(src) == true);
    CHECK(read_string(src) == "abc");
    CHECK(read_strings(src) == std::vector<std::string>{"a", ""});
    CHECK(read_u64(src) == 0xffffffffffffffffULL);
    CHECK_THROWS_WITH(read_u64(src), Catch::Contains("unexpected end of stream"));
}

TEST_CASE("nix wire: garbage is refused") {
    SECTION("non-zero padding") {
        const std::string src_bytes = from_hex("0100000000000000 6100000000000001");
        StringSource src(src_bytes);
        CHECK_THROWS_WITH(read_string(src), Catch::Contains("padding"));
    }
    SECTION("a bool that is neither 0 nor 1") {
        const std::string src_bytes = from_hex("0200000000000000");
        StringSource src(src_bytes);
        CHECK_THROWS_WITH(read_bool(src), Catch::Contains("boolean"));
    }
    SECTION("a huge string length") {
        const std::string src_bytes = from_hex("0000000000000080");
        StringSource src(src_bytes);
        CHECK_THROWS_WITH(read_string(src), Catch::Contains("longer than"));
    }
    SECTION("a truncated string") {
        const std::string src_bytes = from_hex("0500000000000000 6162");
        StringSource src(src_bytes);
        CHECK_THROWS_WITH(read_string(src), Catch::Contains("unexpected end of stream"));
    }
}

TEST_CASE("nix wire: BufferedSink gathers small writes and passes large ones") {
    struct Recorder : Sink {
        std::vector<std::size_t> writes;
        std::string data;
        void write(const char* b, std::size_t n) override {
            writes.push_back(n);
            data.append(b, n);
        }
        using Sink::write;
    } rec;
    BufferedSink buf(rec, 16);
    buf.write("abc");
    buf.write("defgh");
    CHECK(rec.writes.empty());
    buf.write("0123456789"); // 18 bytes pending: 16 go out, 2 stay
    CHECK(rec.writes == std::vector<std::size_t>{16});
    buf.write(std::string(40, 'x')); // large: pending 2 bytes, then the 40 directly
    CHECK(rec.writes == std::vector<std::size_t>{16, 2, 40});
    buf.write("z");
    buf.flush();
    CHECK(rec.writes == std::vector<std::size_t>{16, 2, 40, 1});
    CHECK(rec.data == "abcdefgh0123456789" + std::string(40, 'x') + "z");
    CHECK(buf.bytes_written() == 59);
}

TEST_CASE("nix serve: handshake bytes and version negotiation") {
    const std::string client_hello = "eb9d0c3900000000 0702000000000000";
    struct Case {
        std::string server_version_hex;
        std::uint64_t remote, negotiated;
    };
    for (auto c : {Case{"0802000000000000", 0x208, 0x207}, Case{"0702000000000000", 0x207, 0x207},
                   Case{"0602000000000000", 0x206, 0x206}}) {
        const std::string from_bytes = from_hex("cbee525400000000" + c.server_version_hex);
        StringSource from(from_bytes);
        StringSink to;
        ServeClient client(from, to);
        client.handshake();
        CHECK(to_hex(to.data) == hex_of(client_hello));
        CHECK(client.remote_version() == c.remote);
        CHECK(client.version() == c.negotiated);
    }
}

TEST_CASE("nix serve: query_valid_paths request and reply bytes") {
    // Paths of 16 bytes, so no padding: "/nix/store/a-xyz", "/nix/store/b-xyz".
    const std::string a = "2f6e69782f73746f72652f612d78797a";
    const std::string b = "2f6e69782f73746f72652f622d78797a";
    const std::string from_bytes = from_hex("cbee525400000000 0702000000000000"
                                            "0000000000000000" // the probe: no path
                                            "0100000000000000 1000000000000000" +
                                            b + "0000000000000000");
    StringSource from(from_bytes);
    StringSink to;
    ServeClient client(from, to);
    CHECK(!client.round_trip());
    auto valid = client.query_valid_paths({"/nix/store/b-xyz", "/nix/store/a-xyz"});
    CHECK(valid == std::set<std::string>{"/nix/store/b-xyz"});
    CHECK(client.round_trip());
    const std::string query = "0100000000000000" // QueryValidPaths
                              "0000000000000000" // lock = false
                              "0000000000000000" // substitute = false
                              "0200000000000000 1000000000000000" +
                              a + "1000000000000000" + b;
    CHECK(to_hex(to.data) == hex_of("eb9d0c3900000000 0702000000000000"
                                    "0100000000000000" // the probe: QueryValidPaths,
                                    "0000000000000000" // lock = false,
                                    "0000000000000000" // substitute = false,
                                    "0000000000000000" // no path
                                    + query));
    CHECK(client.bytes_sent() == to.data.size());

    // Later queries go alone.
    auto sent = to.data.size();
    CHECK(client.query_valid_paths({"/nix/store/b-xyz", "/nix/store/a-xyz"}).empty());
    CHECK(to_hex(to.data.substr(sent)) == hex_of(query));
}

TEST_CASE("nix serve: a probe answered with paths is refused") {
    const std::string a = "2f6e69782f73746f72652f612d78797a";
    const std::string from_bytes = from_hex("cbee525400000000 0702000000000000"
                                            "0100000000000000 1000000000000000" +
                                            a + "0000000000000000");
    StringSource from(from_bytes);
    StringSink to;
    ServeClient client(from, to);
    CHECK_THROWS_WITH(client.query_valid_paths({"/nix/store/a-xyz"}),
                      Catch::Contains("valid paths for an empty query"));
}

TEST_CASE("nix serve: a remote that closes the stream is a clear error with its stderr") {
    StringSource from("");
    StringSink to;
    ServeOptions opts;
    opts.remote_name = "web";
    opts.remote_stderr = [] { return std::string("bash: line 1: nix-store: command not found\n"); };
    ServeClient client(from, to, opts);
    try {
        client.handshake();
        FAIL("handshake succeeded on a closed stream");
    } catch (const Error& e) {
        CHECK_THAT(e.message(), Catch::Contains("nix-store --serve on web") &&
                                    Catch::Contains("connection was closed during the handshake") &&
                                    Catch::Contains("nix-store: command not found"));
    }
}

TEST_CASE("nix serve: a wrong magic number is a clear error") {
    SECTION("text where the magic should be (a chatty login shell)") {
        StringSource from("Welcome to the server!\n");
        StringSink to;
        ServeClient client(from, to);
        CHECK_THROWS_WITH(client.handshake(),
                          Catch::Contains("instead of the magic number 0x5452eecb") &&
                              Catch::Contains("Welcome "));
    }
    SECTION("binary garbage") {
        const std::string from_bytes = from_hex("0100000000000000 0702000000000000");
        StringSource from(from_bytes);
        StringSink to;
        ServeClient client(from, to);
        CHECK_THROWS_WITH(client.handshake(), Catch::Contains("answered 0x1 instead of the magic"));
    }
    SECTION("an unknown major version") {
        const std::string from_bytes = from_hex("cbee525400000000 0703000000000000");
        StringSource from(from_bytes);
        StringSink to;
        ServeClient client(from, to);
        CHECK_THROWS_WITH(client.handshake(),
                          Catch::Contains("unsupported serve protocol version 3.7"));
    }
}

TEST_CASE("nix serve: a reply for a path that was not asked for is refused") {
    const std::string from_bytes = from_hex("cbee525400000000 0702000000000000"
                                            "0000000000000000" // the probe's answer
                                            "0100000000000000 1000000000000000"
                                            "2f6e69782f73746f72652f7a2d78797a");
    StringSource from(from_bytes);
    StringSink to;
    ServeClient client(from, to);
    CHECK_THROWS_WITH(client.query_valid_paths({"/nix/store/a-xyz"}),
                      Catch::Contains("not asked for"));
}

namespace {

// A path whose NAR is the hand-written "hi" file (120 bytes).
PathInfo hi_path(const fedi::nix::test::TempDir& dir) {
    fedi::nix::test::write_file(dir / "f", "hi");
    ::chmod((dir / "f").c_str(), 0644);
    PathInfo info;
    info.path = dir / "f";
    info.nar_hash = "abc";
    info.nar_size = 120;
    info.deriver = "/nix/store/d.drv";
    info.references = {"/nix/store/r1", "/nix/store/r2"};
    return info;
}

} // namespace

TEST_CASE("nix serve: AddToStoreNar message layout") {
    fedi::nix::test::TempDir dir;
    auto info = hi_path(dir);
    const std::string reply = from_hex("cbee525400000000 0702000000000000 0100000000000000");
    StringSource from(reply);
    StringSink to;
    ServeClient client(from, to);
    auto stats = client.add_paths({info});
    CHECK(stats.paths_sent == 1);
    CHECK(stats.nar_bytes == 120);
    CHECK(stats.bytes_sent == to.data.size() - 16);

    StringSource sent(std::string_view(to.data).substr(16));
    CHECK(read_u64(sent) == 9);
    CHECK(read_string(sent) == info.path);
    CHECK(read_string(sent) == "/nix/store/d.drv");
    CHECK(read_string(sent) == "abc");
    CHECK(read_strings(sent) == info.references);
    CHECK(read_u64(sent) == 0);   // registration time
    CHECK(read_u64(sent) == 120); // narSize
    CHECK(read_bool(sent) == false);
    CHECK(read_strings(sent).empty()); // signatures
    CHECK(read_string(sent) == "");    // content address
    std::string nar(120, '\0');
    sent.read_exact(nar.data(), nar.size());
    CHECK(to_hex(nar) == hex_of(fedi::nix::test::hi_file_nar_hex));
    char extra;
    CHECK(sent.read_some(&extra, 1) == 0);
}

TEST_CASE("nix serve: ImportPaths export stream layout") {
    fedi::nix::test::TempDir dir;
    auto info = hi_path(dir);
    const std::string reply = from_hex("cbee525400000000 0702000000000000 0100000000000000");
    StringSource from(reply);
    StringSink to;
    ServeClient client(from, to);
    auto stats = client.add_paths({info}, {}, TransferMethod::ImportPaths);
    CHECK(stats.paths_sent == 1);

    StringSource sent(std::string_view(to.data).substr(16));
    CHECK(read_u64(sent) == 4);
    CHECK(read_u64(sent) == 1); // a path follows
    std::string nar(120, '\0');
    sent.read_exact(nar.data(), nar.size());
    CHECK(to_hex(nar) == hex_of(fedi::nix::test::hi_file_nar_hex));
    CHECK(read_u64(sent) == 0x4558494e);
    CHECK(read_string(sent) == info.path);
    CHECK(read_strings(sent) == info.references);
    CHECK(read_string(sent) == "/nix/store/d.drv");
    CHECK(read_u64(sent) == 0); // no signature
    CHECK(read_u64(sent) == 0); // end of stream
    char extra;
    CHECK(sent.read_some(&extra, 1) == 0);
}

TEST_CASE("nix serve: a reply other than 1 to a transfer is an error") {
    fedi::nix::test::TempDir dir;
    auto info = hi_path(dir);
    const std::string reply = from_hex("cbee525400000000 0702000000000000 0000000000000000");
    StringSource from(reply);
    StringSink to;
    ServeClient client(from, to);
    CHECK_THROWS_WITH(client.add_paths({info}), Catch::Contains("unexpected reply 0x0"));
    CHECK_THROWS_WITH(client.query_valid_paths({info.path}), Catch::Contains("unusable"));
}

TEST_CASE("nix serve: Auto falls back to ImportPaths for old servers or incomplete paths") {
    fedi::nix::test::TempDir dir;
    auto info = hi_path(dir);
    struct Case {
        std::string server_version_hex;
        std::uint64_t nar_size;
        std::uint64_t expected_command;
    };
    for (auto c : {Case{"0702000000000000", 120, 9}, Case{"0402000000000000", 120, 4},
                   Case{"0702000000000000", 0, 4}}) {
        info.nar_size = c.nar_size;
        const std::string reply =
            from_hex("cbee525400000000" + c.server_version_hex + "0100000000000000");
        StringSource from(reply);
        StringSink to;
        ServeClient client(from, to);
        client.add_paths({info});
        StringSource sent(std::string_view(to.data).substr(16));
        CHECK(read_u64(sent) == c.expected_command);
    }
}
