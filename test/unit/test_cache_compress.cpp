#include "cache/compress.hpp"

#include <catch2/catch.hpp>
#include <lzma.h>
#include <openssl/evp.h>
#include <random>
#include <zstd.h>

using namespace fedi;

namespace {

std::string sha256(const std::string& data) {
    unsigned char out[32];
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string unxz(const std::string& data) {
    std::string out(64 * 1024 * 1024, '\0');
    std::size_t in_pos = 0, out_pos = 0;
    std::uint64_t limit = UINT64_MAX;
    auto rc = lzma_stream_buffer_decode(
        &limit, 0, nullptr, reinterpret_cast<const std::uint8_t*>(data.data()), &in_pos,
        data.size(), reinterpret_cast<std::uint8_t*>(out.data()), &out_pos, out.size());
    REQUIRE(rc == LZMA_OK);
    out.resize(out_pos);
    return out;
}

// libzstd's streaming decoder: fedi's frames do not say their content size.
std::string unzstd(const std::string& data) {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    std::string out;
    std::size_t left = 1;
    while (in.pos < in.size || left != 0) {
        char buf[64 * 1024];
        ZSTD_outBuffer o{buf, sizeof buf, 0};
        left = ZSTD_decompressStream(dctx.get(), &o, &in);
        REQUIRE_FALSE(ZSTD_isError(left));
        REQUIRE((o.pos > 0 || in.pos < in.size || left == 0)); // progress, or the frame ended
        out.append(buf, o.pos);
    }
    return out;
}

std::string decompress(const std::string& compression, const std::string& file) {
    if (compression == "xz")
        return unxz(file);
    if (compression == "zstd")
        return unzstd(file);
    return file;
}

// Random bytes (xz cannot shrink them) then a compressible run: several parts either way.
std::string payload() {
    std::mt19937 rng(42);
    std::string data;
    for (int i = 0; i < 3 * 1024 * 1024; ++i)
        data += static_cast<char>(rng() & 0xff);
    data += std::string(2 * 1024 * 1024, 'n');
    return data;
}

} // namespace

TEST_CASE("the compressing sink hashes, compresses and hands on parts") {
    auto data = payload();
    auto compression = GENERATE(std::string("xz"), std::string("zstd"), std::string("none"));
    std::vector<std::string> parts;
    cache::CompressingSink sink(compression, 1024 * 1024,
                                [&](std::string&& p) { parts.push_back(std::move(p)); });
    for (std::size_t i = 0; i < data.size(); i += 100 * 1000)
        sink.write(data.data() + i, std::min<std::size_t>(100 * 1000, data.size() - i));
    cache::CompressedNar nar;
    auto rest = sink.finish(nar);
    std::string file;
    for (const auto& p : parts) {
        CHECK(p.size() >= 1024 * 1024);
        file += p;
    }
    file += rest;
    CHECK(parts.size() >= 2);
    CHECK(nar.nar_size == data.size());
    CHECK(nar.nar_sha256 == sha256(data));
    CHECK(nar.file_size == file.size());
    CHECK(nar.file_sha256 == sha256(file));
    CHECK(decompress(compression, file) == data);
    if (compression != "none")
        CHECK(file.size() < data.size() - 1024 * 1024);
}

TEST_CASE("an empty NAR is still a whole compressed file") {
    auto compression = GENERATE(std::string("xz"), std::string("zstd"));
    cache::CompressingSink sink(compression, 1024, [](std::string&&) { FAIL("no full part"); });
    cache::CompressedNar nar;
    auto file = sink.finish(nar);
    CHECK_FALSE(file.empty()); // the format's header and end
    CHECK(nar.file_size == file.size());
    CHECK(nar.file_sha256 == sha256(file));
    CHECK(nar.nar_size == 0);
    CHECK(decompress(compression, file).empty());
}

TEST_CASE("the NAR's file name suffix is the one of its compression") {
    CHECK(cache::compression_suffix("xz") == ".xz");
    CHECK(cache::compression_suffix("zstd") == ".zst");
    CHECK(cache::compression_suffix("none") == "");
}

TEST_CASE("a compression fedi does not write is refused, naming the ones it does") {
    auto refused = "compression \"bzip2\" is not supported (xz, zstd or none)";
    CHECK_THROWS_WITH(cache::CompressingSink("bzip2", 1024, [](std::string&&) {}), refused);
    CHECK_THROWS_WITH(cache::compression_suffix("bzip2"), refused);
}
