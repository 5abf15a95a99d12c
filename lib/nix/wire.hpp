#pragma once
// Framing of Nix's wire protocols (serve protocol, NAR, export stream): every integer
// and bool is a u64 little-endian; a string is its u64 length, its bytes, then zero
// padding to a multiple of 8; a list or set is a u64 count followed by its elements.
#include "core/io.hpp"

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fedi::nix {

void write_u64(Sink& sink, std::uint64_t v);
void write_bool(Sink& sink, bool v);
void write_string(Sink& sink, std::string_view s);
void write_strings(Sink& sink, const std::vector<std::string>& list);
void write_strings(Sink& sink, const std::set<std::string>& set);
// The zero bytes that follow `len` bytes of string data.
void write_padding(Sink& sink, std::uint64_t len);

std::uint64_t read_u64(Source& source);
// Only 0 and 1 are accepted: anything else means we lost the framing.
bool read_bool(Source& source);
// Strings longer than max_len are refused (a garbage length must not allocate GBs).
std::string read_string(Source& source, std::size_t max_len = 1 << 20);
std::vector<std::string> read_strings(Source& source, std::size_t max_len = 1 << 20);
// Reads and checks the zero padding after `len` bytes of string data.
void read_padding(Source& source, std::uint64_t len);

// Gathers small writes into one transport write of up to `capacity` bytes; writes at
// least as large as the buffer go straight through after what is pending.
class BufferedSink : public Sink {
  public:
    explicit BufferedSink(Sink& inner, std::size_t capacity = std::size_t{256} * 1024);
    ~BufferedSink() override = default; // unflushed data is dropped: flush() explicitly
    void write(const char* buf, std::size_t n) override;
    using Sink::write;
    // Writes what is pending to the inner sink and flushes it.
    void flush() override;
    // Bytes handed to the inner sink so far.
    std::uint64_t bytes_written() const { return written_; }
    // Bytes taken from the caller so far: those handed on and those still buffered.
    std::uint64_t bytes_taken() const { return written_ + used_; }
    // Called after each write to the inner sink with bytes_written().
    std::function<void(std::uint64_t)> on_write;

  private:
    void drain();
    Sink& inner_;
    std::vector<char> buf_;
    std::size_t used_ = 0;
    std::uint64_t written_ = 0;
};

} // namespace fedi::nix
