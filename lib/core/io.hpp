#pragma once
// Byte streams shared by every transport: a Nix wire protocol client does not care
// whether it talks to a local pipe or an SSH channel.
#include <cstddef>
#include <string>
#include <string_view>

namespace fedi {

class Source {
  public:
    virtual ~Source() = default;
    // Reads up to n bytes; returns 0 only at end of stream. Throws fedi::Error on failure.
    virtual std::size_t read_some(char* buf, std::size_t n) = 0;
    // Reads exactly n bytes or throws fedi::Error ("unexpected end of stream").
    void read_exact(char* buf, std::size_t n);
};

class Sink {
  public:
    virtual ~Sink() = default;
    // Writes all n bytes or throws fedi::Error.
    virtual void write(const char* buf, std::size_t n) = 0;
    virtual void flush() {}
    void write(std::string_view s) { write(s.data(), s.size()); }
};

// Both directions of a conversation with another program (a local child process, a
// command on an SSH channel): protocols spoken over pipes take one of these.
class Duplex : public Source, public Sink {
  public:
    using Sink::write;
    // Tells the other side nothing more will be written (EOF on its stdin).
    virtual void close_input() = 0;
};

// A sink that keeps everything in memory (tests, small payloads).
class StringSink : public Sink {
  public:
    void write(const char* buf, std::size_t n) override { data.append(buf, n); }
    using Sink::write;
    std::string data;
};

// A source over a string held by the caller.
class StringSource : public Source {
  public:
    explicit StringSource(std::string_view data) : data_(data) {}
    std::size_t read_some(char* buf, std::size_t n) override;

  private:
    std::string_view data_;
    std::size_t pos_ = 0;
};

// The whole content of the file at `path`; throws naming `origin` (what asked for it,
// e.g. an attribute path) and the file when it cannot be read.
std::string read_whole_file(const std::string& path, const std::string& origin);

} // namespace fedi
