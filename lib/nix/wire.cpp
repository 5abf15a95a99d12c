#include "nix/wire.hpp"

#include "core/error.hpp"

#include <cstring>

#include <fmt/format.h>

namespace fedi::nix {

namespace {
const char zeros[8] = {};

std::size_t padding_of(std::uint64_t len) {
    return (8 - len % 8) % 8;
}
} // namespace

void write_u64(Sink& sink, std::uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i)
        b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    sink.write(b, 8);
}

void write_bool(Sink& sink, bool v) {
    write_u64(sink, v ? 1 : 0);
}

void write_padding(Sink& sink, std::uint64_t len) {
    if (auto pad = padding_of(len))
        sink.write(zeros, pad);
}

void write_string(Sink& sink, std::string_view s) {
    write_u64(sink, s.size());
    sink.write(s.data(), s.size());
    write_padding(sink, s.size());
}

void write_strings(Sink& sink, const std::vector<std::string>& list) {
    write_u64(sink, list.size());
    for (const auto& s : list)
        write_string(sink, s);
}

void write_strings(Sink& sink, const std::set<std::string>& set) {
    write_u64(sink, set.size());
    for (const auto& s : set)
        write_string(sink, s);
}

std::uint64_t read_u64(Source& source) {
    unsigned char b[8];
    source.read_exact(reinterpret_cast<char*>(b), 8);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | b[i];
    return v;
}

bool read_bool(Source& source) {
    auto v = read_u64(source);
    if (v > 1)
        throw Error(fmt::format("expected a boolean (0 or 1), got {:#x}", v));
    return v == 1;
}

void read_padding(Source& source, std::uint64_t len) {
    if (auto pad = padding_of(len)) {
        char b[8];
        source.read_exact(b, pad);
        if (std::memcmp(b, zeros, pad) != 0)
            throw Error("non-zero padding after a string");
    }
}

std::string read_string(Source& source, std::size_t max_len) {
    auto len = read_u64(source);
    if (len > max_len)
        throw Error(fmt::format("string of {} bytes is longer than the allowed {}", len, max_len));
    std::string s(len, '\0');
    source.read_exact(s.data(), len);
    read_padding(source, len);
    return s;
}

std::vector<std::string> read_strings(Source& source, std::size_t max_len) {
    auto count = read_u64(source);
    std::vector<std::string> out;
    // No reserve(count): a garbage count must fail on the stream, not in the allocator.
    for (std::uint64_t i = 0; i < count; ++i)
        out.push_back(read_string(source, max_len));
    return out;
}

BufferedSink::BufferedSink(Sink& inner, std::size_t capacity) : inner_(inner), buf_(capacity) {}

void BufferedSink::drain() {
    if (used_ == 0)
        return;
    inner_.write(buf_.data(), used_);
    written_ += used_;
    used_ = 0;
    if (on_write)
        on_write(written_);
}

void BufferedSink::write(const char* buf, std::size_t n) {
    if (used_ + n <= buf_.size()) {
        std::memcpy(buf_.data() + used_, buf, n);
        used_ += n;
        if (used_ == buf_.size())
            drain();
        return;
    }
    if (n >= buf_.size()) {
        drain();
        inner_.write(buf, n);
        written_ += n;
        if (on_write)
            on_write(written_);
        return;
    }
    // Top the buffer up, send it, keep the rest.
    std::size_t take = buf_.size() - used_;
    std::memcpy(buf_.data() + used_, buf, take);
    used_ += take;
    drain();
    std::memcpy(buf_.data(), buf + take, n - take);
    used_ = n - take;
}

void BufferedSink::flush() {
    drain();
    inner_.flush();
}

} // namespace fedi::nix
