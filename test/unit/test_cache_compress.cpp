#include "cache/compress.hpp"

#include <catch2/catch.hpp>
#include <lzma.h>
#include <openssl/evp.h>
#include <random>

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
    auto compression = GENERATE(std::string("xz"), std::string("none"));
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
    CHECK((compression == "xz" ? unxz(file) : file) == data);
    if (compression == "xz")
        CHECK(file.size() < data.size() - 1024 * 1024);
}
