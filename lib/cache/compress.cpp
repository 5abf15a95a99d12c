#include "cache/compress.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <lzma.h>
#include <openssl/evp.h>
#include <zstd.h>

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

// A streaming encoder, driven by CompressingSink::State::code: given input, each step
// writes at most `cap` bytes of output and says whether it is done with that input (with
// `finish`: whether the stream is complete).
class Encoder {
  public:
    virtual ~Encoder() = default;
    virtual void input(const char* in, std::size_t n) = 0;
    virtual bool step(char* out, std::size_t cap, bool finish, std::size_t& written) = 0;
};

class XzEncoder : public Encoder {
  public:
    XzEncoder() {
        // Preset 6 with CRC64, as Nix's own xz sink (liblzma's defaults).
        if (lzma_easy_encoder(&lzma_, 6, LZMA_CHECK_CRC64) != LZMA_OK)
            throw Error("liblzma could not start an xz encoder");
    }
    ~XzEncoder() override { lzma_end(&lzma_); }
    XzEncoder(const XzEncoder&) = delete;
    XzEncoder& operator=(const XzEncoder&) = delete;

    void input(const char* in, std::size_t n) override {
        lzma_.next_in = reinterpret_cast<const std::uint8_t*>(in);
        lzma_.avail_in = n;
    }
    bool step(char* out, std::size_t cap, bool finish, std::size_t& written) override {
        lzma_.next_out = reinterpret_cast<std::uint8_t*>(out);
        lzma_.avail_out = cap;
        auto rc = lzma_code(&lzma_, finish ? LZMA_FINISH : LZMA_RUN);
        if (rc != LZMA_OK && rc != LZMA_STREAM_END)
            throw Error(
                fmt::format("xz compression failed (liblzma error {})", static_cast<int>(rc)));
        written = cap - lzma_.avail_out;
        return rc == LZMA_STREAM_END || (!finish && lzma_.avail_in == 0 && lzma_.avail_out != 0);
    }

  private:
    lzma_stream lzma_ = LZMA_STREAM_INIT;
};

class ZstdEncoder : public Encoder {
  public:
    ZstdEncoder() : cctx_(ZSTD_createCCtx(), &ZSTD_freeCCtx) {
        // Level 3 (zstd's default, and Nix's when it writes zstd NARs), with a checksum.
        if (!cctx_ ||
            ZSTD_isError(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, 3)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1)))
            throw Error("libzstd could not start a zstd encoder");
    }

    void input(const char* in, std::size_t n) override { in_ = {in, n, 0}; }
    bool step(char* out, std::size_t cap, bool finish, std::size_t& written) override {
        ZSTD_outBuffer buf{out, cap, 0};
        auto left =
            ZSTD_compressStream2(cctx_.get(), &buf, &in_, finish ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left))
            throw Error(fmt::format("zstd compression failed ({})", ZSTD_getErrorName(left)));
        written = buf.pos;
        // `left`: bytes still to flush; with ZSTD_e_continue, the input must be consumed.
        return finish ? left == 0 : in_.pos == in_.size;
    }

  private:
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx_;
    ZSTD_inBuffer in_{nullptr, 0, 0};
};

template <class E> std::unique_ptr<Encoder> make() {
    return std::make_unique<E>();
}

// What fedi writes: the narinfo's Compression, the NAR's file name suffix after ".nar",
// and the encoder (none: the NAR goes as it is).
struct Method {
    const char* name;
    const char* suffix;
    std::unique_ptr<Encoder> (*encoder)();
};
const Method methods[] = {
    {"xz", ".xz", make<XzEncoder>},
    {"zstd", ".zst", make<ZstdEncoder>},
    {"none", "", [] { return std::unique_ptr<Encoder>(); }},
};

const Method& method(const std::string& compression) {
    for (const auto& m : methods)
        if (compression == m.name)
            return m;
    throw usage_error(
        fmt::format("compression \"{}\" is not supported (xz, zstd or none)", compression));
}

} // namespace

struct CompressingSink::State {
    std::unique_ptr<Encoder> encoder; // none: the NAR goes as it is
    Sha256 nar_hash, file_hash;
    std::uint64_t nar_size = 0, file_size = 0;
    std::string out; // compressed bytes not handed on yet

    // Runs the encoder on `in` (finish: to the end of the stream).
    void code(const char* in, std::size_t n, bool finish) {
        if (!encoder) {
            if (n > 0)
                add(in, n);
            return;
        }
        encoder->input(in, n);
        char buf[64 * 1024];
        for (;;) {
            std::size_t written = 0;
            bool done = encoder->step(buf, sizeof buf, finish, written);
            add(buf, written);
            if (done)
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
    state_->encoder = method(compression).encoder();
}

CompressingSink::~CompressingSink() = default;

void CompressingSink::write(const char* buf, std::size_t n) {
    state_->nar_hash.update(buf, n);
    state_->nar_size += n;
    state_->code(buf, n, false);
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
    state_->code(nullptr, 0, true);
    out.nar_sha256 = state_->nar_hash.final();
    out.nar_size = state_->nar_size;
    out.file_sha256 = state_->file_hash.final();
    out.file_size = state_->file_size;
    std::string rest;
    rest.swap(state_->out);
    return rest;
}

std::string compression_suffix(const std::string& compression) {
    return method(compression).suffix;
}

} // namespace fedi::cache
