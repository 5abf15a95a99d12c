#include "cache/compress.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <lzma.h>
#include <openssl/evp.h>

namespace fedi::cache {

namespace {

class Sha256 {
  public:
    Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
            throw Error("OpenSSL could not start a SHA-256");
    }
    void update(const char* buf, std::size_t n) { EVP_DigestUpdate(ctx_.get(), buf, n); }
    std::string final() {
        unsigned char out[32];
        unsigned len = 0;
        EVP_DigestFinal_ex(ctx_.get(), out, &len);
        return std::string(reinterpret_cast<char*>(out), len);
    }

  private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

} // namespace

struct CompressingSink::State {
    bool xz = false;
    lzma_stream lzma = LZMA_STREAM_INIT;
    Sha256 nar_hash, file_hash;
    std::uint64_t nar_size = 0, file_size = 0;
    std::string out; // compressed bytes not handed on yet

    // Runs the encoder on `in` (LZMA_FINISH: to the end of the stream).
    void code(const char* in, std::size_t n, lzma_action action) {
        lzma.next_in = reinterpret_cast<const std::uint8_t*>(in);
        lzma.avail_in = n;
        char buf[64 * 1024];
        for (;;) {
            lzma.next_out = reinterpret_cast<std::uint8_t*>(buf);
            lzma.avail_out = sizeof buf;
            auto rc = lzma_code(&lzma, action);
            if (rc != LZMA_OK && rc != LZMA_STREAM_END)
                throw Error(
                    fmt::format("xz compression failed (liblzma error {})", static_cast<int>(rc)));
            add(buf, sizeof buf - lzma.avail_out);
            if (rc == LZMA_STREAM_END ||
                (action == LZMA_RUN && lzma.avail_in == 0 && lzma.avail_out != 0))
                return;
        }
    }
    void add(const char* buf, std::size_t n) {
        file_hash.update(buf, n);
        file_size += n;
        out.append(buf, n);
    }
};

CompressingSink::CompressingSink(const std::string& compression, std::size_t part_size,
                                 std::function<void(std::string&&)> on_part)
    : state_(std::make_unique<State>()), part_size_(part_size), on_part_(std::move(on_part)) {
    if (compression == "xz") {
        state_->xz = true;
        // Preset 6 with CRC64, as Nix's own xz sink (liblzma's defaults).
        if (lzma_easy_encoder(&state_->lzma, 6, LZMA_CHECK_CRC64) != LZMA_OK)
            throw Error("liblzma could not start an xz encoder");
    } else if (compression != "none") {
        throw usage_error(
            fmt::format("compression \"{}\" is not supported (xz or none)", compression));
    }
}

CompressingSink::~CompressingSink() {
    if (state_->xz)
        lzma_end(&state_->lzma);
}

void CompressingSink::write(const char* buf, std::size_t n) {
    state_->nar_hash.update(buf, n);
    state_->nar_size += n;
    if (state_->xz)
        state_->code(buf, n, LZMA_RUN);
    else
        state_->add(buf, n);
    emit();
}

void CompressingSink::emit() {
    if (state_->out.size() < part_size_)
        return;
    std::string part;
    part.swap(state_->out);
    on_part_(std::move(part));
}

std::string CompressingSink::finish(CompressedNar& out) {
    if (state_->xz)
        state_->code(nullptr, 0, LZMA_FINISH);
    out.nar_sha256 = state_->nar_hash.final();
    out.nar_size = state_->nar_size;
    out.file_sha256 = state_->file_hash.final();
    out.file_size = state_->file_size;
    std::string rest;
    rest.swap(state_->out);
    return rest;
}

std::string compression_suffix(const std::string& compression) {
    return compression == "xz" ? ".xz" : "";
}

} // namespace fedi::cache
