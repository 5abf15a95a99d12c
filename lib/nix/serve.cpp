#include "nix/serve.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "nix/nar.hpp"
#include "nix/serve_lanes.hpp"
#include "nix/wire.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <future>

#include <fmt/format.h>

namespace fedi::nix {
namespace {

// Replies in flight before we stop to read some: 8 bytes each, so 1024 of them (8 KiB)
// always fit in a pipe (64 KiB) or an SSH channel window: the target never blocks on
// writing a reply while we are still writing to it.
constexpr std::size_t max_unacked = 1024;

// Bytes of paths the target has not acknowledged yet, before we wait for a reply ahead
// of starting the next path. Without a bound, everything the SSH window allows (2 MiB
// with OpenSSH) piles up in the target's sshd whenever its nix-store is slower than the
// link, as with many small paths; sshd grows that buffer packet by packet, copying it
// each time into fresh pages (measured: 70k page faults and twice the target's CPU for
// 3001 paths of 4 KB, against 6k with this bound). The bound grows with the round trip
// so that a distant target still gets enough in flight to keep importing: what a target
// imports in a round trip (small paths at 40 MB/s and more), which at 20 ms each way is
// the whole SSH window (measured there: 3001 paths of 4 KB pushed in 0.78 s with 2 MiB in
// flight, 0.90 s with 1.4 MiB).
constexpr std::uint64_t min_unacked_bytes = std::uint64_t{512} * 1024;
constexpr double unacked_bytes_per_second_of_round_trip = 64e6;

// Shows 8 bytes that should have been a number: as text when they look like text
// (a shell error or login banner on stdout), else as hex.
std::string describe_u64(std::uint64_t v) {
    std::string text;
    bool printable = true;
    for (int i = 0; i < 8; ++i) {
        char c = static_cast<char>((v >> (8 * i)) & 0xff);
        if (!std::isprint(static_cast<unsigned char>(c)) && c != '\n' && c != '\t')
            printable = false;
        text += c;
    }
    if (printable)
        return fmt::format("{:#x} (text \"{}\")", v, text);
    return fmt::format("{:#x}", v);
}

std::string version_string(std::uint64_t v) {
    return fmt::format("{}.{}", v >> 8, v & 0xff);
}

// A failure on our side (reading a local store path): not the remote's doing.
struct LocalError : Error {
    using Error::Error;
};

// Runs `send` (a write toward the remote); when it throws, sets `failed` first.
template <typename Send> void noting_failure(bool& failed, Send&& send) {
    try {
        send();
    } catch (...) {
        failed = true;
        throw;
    }
}

} // namespace

// Remembers whether the remote closed its end, to say so instead of a generic error.
class ServeClient::RemoteSource : public Source {
  public:
    explicit RemoteSource(Source& inner) : inner_(inner) {}
    std::size_t read_some(char* buf, std::size_t n) override {
        auto got = inner_.read_some(buf, n);
        if (got == 0)
            eof = true;
        return got;
    }
    bool eof = false;

  private:
    Source& inner_;
};

// Remembers whether writing to the remote failed (it hung up, or the transport broke).
class ServeClient::RemoteSink : public Sink {
  public:
    explicit RemoteSink(Sink& inner) : inner_(inner) {}
    void write(const char* buf, std::size_t n) override {
        noting_failure(failed, [&] { inner_.write(buf, n); });
    }
    using Sink::write;
    void flush() override {
        noting_failure(failed, [&] { inner_.flush(); });
    }
    bool failed = false;

  private:
    Sink& inner_;
};

ServeClient::ServeClient(Source& from_remote, Sink& to_remote, ServeOptions options)
    : from_(std::make_unique<RemoteSource>(from_remote)),
      raw_to_(std::make_unique<RemoteSink>(to_remote)),
      to_(std::make_unique<BufferedSink>(*raw_to_)), options_(std::move(options)) {}

ServeClient::~ServeClient() = default;

std::uint64_t ServeClient::bytes_sent() const {
    return to_->bytes_written();
}

// Runs f; any failure becomes a fedi::Error that names the remote, says whether it
// hung up, and carries what it wrote on stderr.
template <typename F> auto ServeClient::guarded(const char* doing, F&& f) -> decltype(f()) {
    if (broken_)
        throw Error(fmt::format("nix-store --serve on {}: the connection is unusable after an "
                                "earlier failure",
                                options_.remote_name));
    std::string message;
    std::vector<std::string> context;
    try {
        return f();
    } catch (const LocalError& e) {
        // Our own failure, but the stream stopped mid-command: it cannot go on.
        broken_ = true;
        throw Error(e.message());
    } catch (const Error& e) {
        message = e.message();
        context = e.context();
    } catch (const std::exception& e) {
        message = e.what();
    }
    broken_ = true;
    std::string text = fmt::format("nix-store --serve on {}: ", options_.remote_name);
    if (from_->eof)
        text += fmt::format("the connection was closed during {}", doing);
    else if (raw_to_->failed)
        text += fmt::format("the connection broke during {} ({})", doing, message);
    else
        text += fmt::format("{} failed: {}", doing, message);
    if (options_.remote_stderr) {
        std::string err;
        try {
            err = trim(options_.remote_stderr());
        } catch (const std::exception& e) {
            err = fmt::format("(its stderr could not be read: {})", e.what());
        }
        if (!err.empty())
            text += "\nremote stderr:\n" + err;
    }
    Error wrapped(text);
    for (auto& line : context)
        wrapped.with_context(line);
    throw wrapped;
}

std::uint64_t ServeClient::read_reply(const char* what) {
    auto v = read_u64(*from_);
    if (v != 1)
        throw Error(fmt::format("unexpected reply {} to {}, expected 1", describe_u64(v), what));
    return v;
}

void ServeClient::handshake() {
    start_handshake();
    finish_handshake();
}

void ServeClient::start_handshake() {
    if (hello_sent_)
        return;
    guarded("the handshake", [&] {
        write_u64(*to_, serve_magic_client);
        // Our version too: the server reads it only after answering, but it is all we
        // have to say.
        write_u64(*to_, serve_client_version);
        to_->flush();
    });
    hello_sent_ = true;
}

void ServeClient::finish_handshake() {
    if (handshaken_)
        return;
    guarded("the handshake", [&] {
        auto magic = read_u64(*from_);
        if (magic != serve_magic_server)
            throw Error(fmt::format("the remote answered {} instead of the magic number {:#x}: "
                                    "is Nix installed there, and is its login shell silent?",
                                    describe_u64(magic), serve_magic_server));
        remote_version_ = read_u64(*from_);
        if ((remote_version_ & 0xff00) != 0x200)
            throw Error(fmt::format("unsupported serve protocol version {} (we speak 2.x)",
                                    version_string(remote_version_)));
        version_ = std::min(remote_version_, serve_client_version);
    });
    handshaken_ = true;
}

namespace {

void write_query_valid_paths(Sink& to, const std::set<std::string>& paths) {
    write_u64(to, static_cast<std::uint64_t>(ServeCommand::QueryValidPaths));
    // lock = false: temporary roots would die with this process anyway, before the
    // caller roots the system in a profile. A GC racing with the push makes the
    // registration of a referrer fail (its references must be valid), never corrupts
    // the target; pushing again converges.
    write_bool(to, false);
    write_bool(to, false); // substitute: the target must not download anything
    write_strings(to, paths);
}

} // namespace

std::set<std::string> ServeClient::query_valid_paths(const std::set<std::string>& paths) {
    start_handshake();
    // The first time, an empty query goes ahead of the real one, in the same write: its
    // answer comes back one round trip later, which sizes the pipeline of add_paths (the
    // real query's answer also waits for the target's database).
    bool probe = !round_trip_;
    // Until the server has answered our hello, a failure is the handshake's.
    guarded(handshaken_ ? "the query for valid paths" : "the handshake", [&] {
        if (probe)
            write_query_valid_paths(*to_, {});
        write_query_valid_paths(*to_, paths);
        to_->flush();
    });
    auto start = std::chrono::steady_clock::now();
    finish_handshake(); // its answer comes first
    return guarded("the query for valid paths", [&] {
        if (probe) {
            auto empty = read_strings(*from_);
            round_trip_ = std::chrono::steady_clock::now() - start;
            if (!empty.empty())
                throw Error("the remote reported valid paths for an empty query");
        }
        auto valid = read_strings(*from_);
        std::set<std::string> out(valid.begin(), valid.end());
        for (const auto& p : out)
            if (!paths.count(p))
                throw Error(fmt::format("the remote reported '{}', which was not asked for", p));
        return out;
    });
}

PushStats ServeClient::add_paths(const std::vector<PathInfo>& paths, const PushProgress& progress,
                                 TransferMethod method, const std::function<void()>& end_input) {
    handshake();
    if (paths.empty()) {
        if (end_input)
            guarded("closing the input", end_input);
        return {};
    }
    if (method == TransferMethod::Auto) {
        bool db_complete = std::all_of(paths.begin(), paths.end(), [](const PathInfo& p) {
            return p.nar_size > 0 && !p.nar_hash.empty();
        });
        method = (version_ & 0xff) >= 5 && db_complete ? TransferMethod::AddToStoreNar
                                                       : TransferMethod::ImportPaths;
    }
    if (method == TransferMethod::ImportPaths) {
        auto stats = transfer("the transfer (ImportPaths)", progress,
                              [&] { return send_import_paths(paths, end_input); });
        stats.paths_total = paths.size();
        return stats;
    }
    // Every path in order, for one lane.
    struct AllPaths : PathFeed {
        const std::vector<PathInfo>& paths;
        std::size_t next_index = 0;
        explicit AllPaths(const std::vector<PathInfo>& p) : paths(p) {}
        const PathInfo* next() override {
            return next_index < paths.size() ? &paths[next_index++] : nullptr;
        }
        bool done() override { return next_index == paths.size(); }
        void wait() override {}
        void acked(const PathInfo&) override {}
    } all(paths);
    auto stats = add_paths_from(all, progress, end_input);
    stats.paths_total = paths.size();
    return stats;
}

PushStats ServeClient::add_paths_from(PathFeed& feed, const PushProgress& progress,
                                      const std::function<void()>& end_input) {
    handshake();
    if ((version_ & 0xff) < 5)
        throw Error(
            fmt::format("nix-store --serve on {} speaks protocol {}, AddToStoreNar needs 2.5",
                        options_.remote_name, version_string(version_)));
    return transfer("the transfer (AddToStoreNar)", progress,
                    [&] { return send_add_to_store_nar(feed, end_input); });
}

// Runs `send` (one transfer command) guarded, with progress for its bytes.
template <typename F>
PushStats ServeClient::transfer(const char* doing, const PushProgress& progress, F&& send) {
    auto start = to_->bytes_written();
    paths_sent_now_ = 0;
    progress_ = progress;
    to_->on_write = [this, start](std::uint64_t total) {
        if (progress_)
            progress_(total - start, paths_sent_now_);
    };
    struct Reset {
        ServeClient& c;
        ~Reset() {
            c.to_->on_write = nullptr;
            c.progress_ = nullptr;
        }
    } reset{*this};

    PushStats stats = guarded(doing, send);
    stats.paths_total = stats.paths_sent;
    stats.bytes_sent = to_->bytes_written() - start;
    if (progress)
        progress(stats.bytes_sent, stats.paths_sent);
    return stats;
}

namespace {

// Writes the NAR of info.path and checks it against the size the database recorded
// (the target reads exactly narSize bytes for AddToStoreNar: any other count would
// desynchronise the stream).
std::uint64_t send_nar(const PathInfo& info, Sink& sink) {
    // Counts bytes and tells transport failures from failures to read local files.
    struct Tracking : Sink {
        Sink& inner;
        std::uint64_t count = 0;
        bool transport_failed = false;
        explicit Tracking(Sink& s) : inner(s) {}
        void write(const char* buf, std::size_t n) override {
            noting_failure(transport_failed, [&] { inner.write(buf, n); });
            count += n;
        }
    } tracked(sink);
    try {
        dump_nar(info.path, tracked);
    } catch (const Error& e) {
        if (tracked.transport_failed)
            throw;
        throw LocalError(e.message());
    }
    if (info.nar_size != 0 && tracked.count != info.nar_size)
        throw LocalError(fmt::format("'{}' changed on disk: its NAR is {} bytes, the store "
                                     "database says {}",
                                     info.path, tracked.count, info.nar_size));
    return tracked.count;
}

} // namespace

std::uint64_t ServeClient::unacked_bytes_limit() const {
    auto round_trip = options_.network_round_trip ? options_.network_round_trip : round_trip_;
    if (!round_trip)
        return min_unacked_bytes;
    double seconds = std::chrono::duration<double>(*round_trip).count();
    return std::max(min_unacked_bytes,
                    static_cast<std::uint64_t>(seconds * unacked_bytes_per_second_of_round_trip));
}

void ServeClient::write_add_to_store_nar(const PathInfo& info, PushStats& stats) {
    write_u64(*to_, static_cast<std::uint64_t>(ServeCommand::AddToStoreNar));
    write_string(*to_, info.path);
    write_string(*to_, info.deriver);
    write_string(*to_, info.nar_hash);
    write_strings(*to_, info.references);
    write_u64(*to_, 0); // registration time: 0 means "now" to the target
    write_u64(*to_, info.nar_size);
    write_bool(*to_, false);                         // ultimate: the target did not build it
    write_strings(*to_, std::vector<std::string>{}); // signatures: root needs none
    write_string(*to_, ""); // content address: none (as nix-store --import)
    stats.nar_bytes += send_nar(info, *to_);
    ++stats.paths_sent;
    ++paths_sent_now_;
}

PushStats ServeClient::send_add_to_store_nar(PathFeed& feed,
                                             const std::function<void()>& end_input) {
    PushStats stats;
    const std::uint64_t byte_limit = unacked_bytes_limit();
    // Each unacknowledged path and where it starts in the stream, oldest first.
    std::deque<std::pair<const PathInfo*, std::uint64_t>> unacked;
    auto read_replies_while = [&](auto more) {
        to_->flush();
        while (!unacked.empty() && more()) {
            read_reply("AddToStoreNar");
            feed.acked(*unacked.front().first);
            unacked.pop_front();
        }
    };
    auto beyond_limit = [&] { return to_->bytes_taken() - unacked.front().second >= byte_limit; };
    for (;;) {
        const PathInfo* info = feed.next();
        if (!info) {
            if (feed.done())
                break;
            // Nothing is ready for us: what we sent must be acknowledged (other lanes may
            // wait for it) before we wait for theirs.
            read_replies_while([] { return true; });
            feed.wait();
            continue;
        }
        if (!unacked.empty() && beyond_limit())
            read_replies_while(beyond_limit);
        unacked.emplace_back(info, to_->bytes_taken());
        write_add_to_store_nar(*info, stats);
        if (unacked.size() == max_unacked)
            read_replies_while([&] { return unacked.size() > max_unacked / 2; });
    }
    to_->flush();
    if (end_input)
        end_input();
    read_replies_while([] { return true; });
    return stats;
}

PushStats ServeClient::send_import_paths(const std::vector<PathInfo>& paths,
                                         const std::function<void()>& end_input) {
    PushStats stats;
    write_u64(*to_, static_cast<std::uint64_t>(ServeCommand::ImportPaths));
    for (const auto& info : paths) {
        write_u64(*to_, 1); // another path follows
        stats.nar_bytes += send_nar(info, *to_);
        write_u64(*to_, export_magic);
        write_string(*to_, info.path);
        write_strings(*to_, info.references);
        write_string(*to_, info.deriver);
        write_u64(*to_, 0); // no legacy signature
        ++stats.paths_sent;
        ++paths_sent_now_;
    }
    write_u64(*to_, 0); // end of the export stream
    to_->flush();
    if (end_input)
        end_input();
    read_reply("ImportPaths");
    return stats;
}

namespace {

// How many lanes besides `client`'s are worth opening to send `missing` (0: none).
std::size_t extra_lanes(const ServeClient& client, const std::vector<PathInfo>& missing,
                        const PushOptions& options) {
    const auto& lanes = options.lanes;
    if (!lanes.open || lanes.max_extra == 0 || options.method == TransferMethod::ImportPaths ||
        (client.version() & 0xff) < 5 || !client.round_trip() ||
        *client.round_trip() < lanes.min_round_trip)
        return 0;
    std::uint64_t bytes = 0;
    for (const auto& p : missing) {
        if (p.nar_size == 0 || p.nar_hash.empty())
            return 0; // ImportPaths, on one lane
        bytes += p.nar_size;
    }
    return bytes >= lanes.min_bytes ? lanes.max_extra : 0;
}

} // namespace

PushStats push_closure(Source& from_remote, Sink& to_remote, LocalClosure& closure,
                       const PushProgress& progress, const PushOptions& options) {
    ServeClient client(from_remote, to_remote, options.serve);
    // The target's nix-store starts while the local closure query may still run; its
    // answer is read with the query's.
    client.start_handshake();
    const auto& paths = closure.paths();
    // Every path's facts are read while the target answers the query: a push usually
    // sends most of its closure (one that finds everything there wasted a local query).
    auto prefetch = std::async(std::launch::async, [&] { closure.infos(paths); });
    std::set<std::string> all(paths.begin(), paths.end());
    auto valid = client.query_valid_paths(all);
    prefetch.wait(); // a failure shows again below, if those facts are needed
    std::vector<std::string> missing_paths;
    for (const auto& p : paths)
        if (!valid.count(p))
            missing_paths.push_back(p);
    auto missing = closure.infos(missing_paths);
    // Progress counts from the first byte of the handshake, like the returned stats.
    auto offset = client.bytes_sent();
    PushProgress total_progress;
    if (progress)
        total_progress = [&](std::uint64_t bytes, std::size_t paths_sent) {
            progress(offset + bytes, paths_sent);
        };
    std::size_t extra = extra_lanes(client, missing, options);
    PushStats stats = extra > 0 ? add_paths_over_lanes(client, std::move(missing), total_progress,
                                                       options.serve, options.lanes, extra)
                                : client.add_paths(missing, total_progress, options.method,
                                                   options.serve.end_input);
    stats.paths_total = paths.size();
    stats.bytes_sent += offset;
    if (stats.paths_sent == 0 && progress)
        progress(stats.bytes_sent, 0);
    return stats;
}

PushStats push_closure(Source& from_remote, Sink& to_remote, const std::vector<std::string>& roots,
                       const PushProgress& progress, const PushOptions& options) {
    LocalClosure closure(roots);
    return push_closure(from_remote, to_remote, closure, progress, options);
}

} // namespace fedi::nix
