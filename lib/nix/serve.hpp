#pragma once
// Client side of Nix's serve protocol, what `nix-store --serve --write` speaks on a
// target machine (over an SSH channel, or a local pipe in tests). Only what a closure
// push needs: the handshake, one query for the paths the target already has, and one
// stream carrying every missing path.
#include "core/io.hpp"
#include "nix/store.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fedi::nix {

class BufferedSink;

inline constexpr std::uint64_t serve_magic_client = 0x390c9deb;
inline constexpr std::uint64_t serve_magic_server = 0x5452eecb;
inline constexpr std::uint64_t export_magic = 0x4558494e;
// What we speak: 2.7 is Nix 2.8's version (and Lix's, frozen); current Nix's 2.8 only
// changes commands we do not use. The handshake keeps the lower of both versions.
inline constexpr std::uint64_t serve_client_version = 0x207;

enum class ServeCommand : std::uint64_t {
    QueryValidPaths = 1,
    ImportPaths = 4,
    AddToStoreNar = 9,
};

// How paths travel to the target.
//
// AddToStoreNar (cmd 9, protocol >= 2.5, in every Nix 2.x; Debian's 2.8 answers 2.7) is
// the default:
// - the target streams each NAR straight into the store (LocalStore::addToStore with
//   a SizedSource), while ImportPaths' importPaths() first copies every NAR into a
//   string in RAM, then hashes it: a path of N bytes takes up to 2N of RAM on the target
//   (Nix 2.8 and current Nix alike). Measured with Nix 2.8 for one 150 MB path: the
//   target's nix-store peaks at 25 MB RSS with cmd 9, 286 MB with cmd 4 (and is 2-3x
//   slower for large closures: test_nix_bench.cpp);
// - it needs narHash and narSize up front, but the local store database already has
//   them (nix-store --dump-db), so no extra read of the files; and the target checks
//   them, so a corrupted local path is refused instead of spread;
// - current Nix's own ssh:// store uses it; cmd 4 is kept there only for Hydra.
// Each path gets a u64 1 back; we pipeline them (up to `max_unacked` in flight, far
// below what a pipe or SSH window holds, and about 512 KiB of NARs, more for a distant
// target), so there is no per-path round trip.
// ImportPaths (cmd 4, the `nix-store --export` stream, one reply at the end) is the
// fallback for servers below 2.5 or paths the database has no narSize/narHash for.
enum class TransferMethod { Auto, AddToStoreNar, ImportPaths };

struct PushStats {
    std::size_t paths_total = 0;  // paths in the closure
    std::size_t paths_sent = 0;   // paths the target lacked and received
    std::uint64_t bytes_sent = 0; // every byte written to the target (protocol included)
    std::uint64_t nar_bytes = 0;  // NAR bytes among them
};

// Called as data leaves (once per transport write, i.e. per 256 KiB at most) and at
// the end, with the bytes and the paths sent so far.
using PushProgress = std::function<void(std::uint64_t bytes_sent, std::size_t paths_sent)>;

// Hands out the paths of one transfer, which several ServeClients (lanes: connections to
// the same target) may share; see serve_lanes.hpp.
class PathFeed {
  public:
    virtual ~PathFeed() = default;
    // The next path to send, or null: none is ready now (then wait()), or none is left
    // (then done() is true).
    virtual const PathInfo* next() = 0;
    virtual bool done() = 0;
    // Blocks until next() may have a path; called with everything sent acknowledged.
    virtual void wait() = 0;
    // The target registered `info` (a path next() returned).
    virtual void acked(const PathInfo& info) = 0;
};

struct ServeOptions {
    // Named in error messages ("nix-store --serve on web: ...").
    std::string remote_name = "the remote";
    // Returns what the remote process wrote on stderr so far (e.g. waits for the SSH
    // channel or child process to end, then returns its stderr); appended to errors.
    std::function<std::string()> remote_stderr;
    // Ends the remote's input (EOF). When set, push_closure calls it as soon as its last
    // command is written, so the remote exits while the last replies come back rather
    // than a round trip after them.
    std::function<void()> end_input;
    // The network's round trip to the target, when the transport measured it (else the
    // first query's, which also counts the remote's start-up, is used).
    std::optional<std::chrono::steady_clock::duration> network_round_trip;
};

class ServeClient {
  public:
    ServeClient(Source& from_remote, Sink& to_remote, ServeOptions options = {});
    ~ServeClient();
    ServeClient(const ServeClient&) = delete;
    ServeClient& operator=(const ServeClient&) = delete;

    // Exchanges magic numbers and versions; the other calls do it first if needed.
    void handshake();
    // Sends our half of the handshake without waiting for the answer: the first query
    // travels right behind it and both answers come back together (one round trip).
    void start_handshake();
    std::uint64_t remote_version() const { return remote_version_; }
    std::uint64_t version() const { return version_; } // the negotiated (lower) one

    // The subset of `paths` that is valid on the target (cmd 1, no lock, no substitution).
    // The first call sends an empty query ahead of it, in the same write, to time a
    // round trip (see round_trip()).
    std::set<std::string> query_valid_paths(const std::set<std::string>& paths);

    // Sends `paths` (references before referrers, all missing on the target) in one
    // stream and waits until the target has registered them all. Progress and the
    // returned bytes_sent count the bytes of this call. With `end_input`, called once
    // everything is written: nothing more will be sent.
    PushStats add_paths(const std::vector<PathInfo>& paths, const PushProgress& progress = {},
                        TransferMethod method = TransferMethod::Auto,
                        const std::function<void()>& end_input = {});
    // The same with AddToStoreNar for the paths `feed` hands out, until it has none left
    // (every path needs its narHash and narSize).
    PushStats add_paths_from(PathFeed& feed, const PushProgress& progress = {},
                             const std::function<void()>& end_input = {});

    // Bytes written to the target so far.
    std::uint64_t bytes_sent() const;

    // One round trip to the target, measured by the first query_valid_paths (or known
    // from another connection to it).
    std::optional<std::chrono::steady_clock::duration> round_trip() const { return round_trip_; }
    void set_round_trip(std::chrono::steady_clock::duration rtt) { round_trip_ = rtt; }

  private:
    class RemoteSource;
    class RemoteSink;
    template <typename F> auto guarded(const char* doing, F&& f) -> decltype(f());
    template <typename F>
    PushStats transfer(const char* doing, const PushProgress& progress, F&& send);
    PushStats send_add_to_store_nar(PathFeed& feed, const std::function<void()>& end_input);
    void write_add_to_store_nar(const PathInfo& info, PushStats& stats);
    PushStats send_import_paths(const std::vector<PathInfo>& paths,
                                const std::function<void()>& end_input);
    void finish_handshake();
    std::uint64_t read_reply(const char* what);
    std::uint64_t unacked_bytes_limit() const;

    std::unique_ptr<RemoteSource> from_;
    std::unique_ptr<RemoteSink> raw_to_;
    std::unique_ptr<BufferedSink> to_;
    ServeOptions options_;
    bool hello_sent_ = false;
    bool handshaken_ = false; // the answer to our hello was read
    bool broken_ = false;     // a command failed midway: the stream is out of step
    std::uint64_t remote_version_ = 0;
    std::uint64_t version_ = 0;
    std::size_t paths_sent_now_ = 0; // during add_paths, for progress
    PushProgress progress_;
    std::optional<std::chrono::steady_clock::duration> round_trip_;
};

// One more connection to the target: the streams of a `nix-store --serve --write`.
class ServeLane {
  public:
    virtual ~ServeLane() = default;
    virtual Duplex& io() = 0;
    virtual std::string remote_stderr() = 0;
    // After the last reply: ends the remote's input and checks that it exited well.
    virtual void finish() = 0;
};

// More connections to the target for one push. One SSH channel carries at most the
// server's window per round trip (OpenSSH: 2 MiB, so 20 MB/s at 100 ms): a large closure
// over a long link goes faster over several.
struct LaneOptions {
    // Opens a lane (called on a thread of its own); throws when it cannot, and then the
    // other lanes carry its share.
    std::function<std::unique_ptr<ServeLane>()> open;
    std::size_t max_extra = 2; // lanes besides the first
    // Smaller transfers, or nearer targets, use the first lane alone: opening another
    // costs a connection (several round trips) and the target's CPU.
    std::uint64_t min_bytes = std::uint64_t{32} << 20;
    std::chrono::milliseconds min_round_trip{5};
};

struct PushOptions {
    ServeOptions serve;
    TransferMethod method = TransferMethod::Auto;
    LaneOptions lanes; // none unless lanes.open is set
};

// Pushes the closure of `roots` (local store paths) to the target: queries the local
// closure, asks the target which paths it has (one query), sends the missing ones in
// one stream. Pushing an up-to-date closure sends no path command at all.
PushStats push_closure(Source& from_remote, Sink& to_remote, const std::vector<std::string>& roots,
                       const PushProgress& progress = {}, const PushOptions& options = {});

// The same for a closure shared by several pushes (queried once, see LocalClosure): only
// the missing paths' database facts are read.
PushStats push_closure(Source& from_remote, Sink& to_remote, LocalClosure& closure,
                       const PushProgress& progress = {}, const PushOptions& options = {});

} // namespace fedi::nix
