#pragma once
// A NAR on its way to the cache: hashed as it comes (its NarHash and NarSize), compressed
// (xz through liblzma, zstd through libzstd, or not at all), and the compressed bytes
// hashed too (FileHash, FileSize) and handed on in parts of about `part_size` bytes, so
// memory stays bounded whatever the NAR's size.
#include "core/io.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace fedi::cache {

struct CompressedNar {
    std::string nar_sha256; // raw 32 bytes
    std::uint64_t nar_size = 0;
    std::string file_sha256; // raw 32 bytes, of the compressed bytes
    std::uint64_t file_size = 0;
};

class CompressingSink : public Sink {
  public:
    // `on_part` gets each full part (at least `part_size` bytes); finish() returns the
    // rest. `compression`: "xz", "zstd" or "none" (anything else: a usage error).
    CompressingSink(const std::string& compression, std::size_t part_size,
                    std::function<void(std::string&&)> on_part);
    ~CompressingSink() override;
    CompressingSink(const CompressingSink&) = delete;
    CompressingSink& operator=(const CompressingSink&) = delete;

    void write(const char* buf, std::size_t n) override;
    // Ends the stream: the last (possibly short, possibly empty) part, and the hashes.
    std::string finish(CompressedNar& out);

  private:
    struct State;
    void emit();
    std::unique_ptr<State> state_;
    std::size_t part_size_;
    std::function<void(std::string&&)> on_part_;
};

// ".xz" for xz, ".zst" for zstd, "" for none: the NAR's file name suffix after ".nar".
std::string compression_suffix(const std::string& compression);

} // namespace fedi::cache
