// The serve protocol from fedi's side: whatever comes back from `nix-store --serve` on a
// machine (an old or new Nix, a login shell printing on stdout, a hostile machine), the
// client ends in a result or a fedi::Error, never reads out of bounds or allocates what a
// length field claims. The first byte picks the transfer method; the rest is the reply
// stream to a push of two local paths (as push_closure does it: handshake, one query,
// the missing paths in one stream).
#include "fuzz.hpp"
#include "nix/nar.hpp"
#include "nix/serve.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

using namespace fedi;
namespace fs = std::filesystem;

namespace {

struct Discard : Sink {
    void write(const char*, std::size_t) override {}
    using Sink::write;
};

std::string scratch_dir;

// Two small files standing for store paths: their NARs are what add_paths sends.
const std::vector<nix::PathInfo>& local_paths() {
    static const std::vector<nix::PathInfo> infos = [] {
        scratch_dir = (fs::temp_directory_path() / "fedi-fuzz-XXXXXX").string();
        if (!mkdtemp(scratch_dir.data()))
            std::abort();
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(scratch_dir, ec);
        });
        std::vector<nix::PathInfo> out;
        for (const char* name : {"a", "b"}) {
            nix::PathInfo info;
            info.path = scratch_dir + "/" + name;
            std::ofstream(info.path) << "contents of " << name << "\n";
            info.nar_hash = "sha256:0000";
            info.nar_size = nix::nar_size(info.path);
            out.push_back(info);
        }
        out[1].references = {out[0].path};
        return out;
    }();
    return infos;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const auto& paths = local_paths();
    const nix::TransferMethod methods[] = {nix::TransferMethod::Auto,
                                           nix::TransferMethod::AddToStoreNar,
                                           nix::TransferMethod::ImportPaths};
    auto method = methods[data[0] % 3];
    auto reply = fuzz::bytes(data + 1, size - 1);
    StringSource from(reply);
    Discard to;
    nix::ServeOptions options;
    options.remote_name = "fuzz";
    options.remote_stderr = [] { return std::string("remote stderr\n"); };
    nix::ServeClient client(from, to, options);
    fuzz::refused_or_parsed([&] {
        std::set<std::string> asked;
        for (const auto& p : paths)
            asked.insert(p.path);
        auto valid = client.query_valid_paths(asked);
        for (const auto& v : valid)
            fuzz::check(asked.count(v) == 1, "a valid path that was not asked for");
        std::vector<nix::PathInfo> missing;
        for (const auto& p : paths)
            if (!valid.count(p.path))
                missing.push_back(p);
        auto stats = client.add_paths(missing, {}, method);
        fuzz::check(stats.paths_sent == missing.size(), "paths sent miscounted");
        // A second query on the same connection, as a later push would.
        client.query_valid_paths(asked);
    });
    return 0;
}
