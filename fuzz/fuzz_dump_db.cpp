// `nix-store --dump-db` output, which the closure push reads for each path's NAR size,
// hash and references: parsed, then ordered references first (cycles, self references
// and references outside the set included).
#include "fuzz.hpp"
#include "nix/store.hpp"

#include <set>

using namespace fedi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::refused_or_parsed([&] {
        auto infos = nix::parse_dump_db(fuzz::bytes(data, size));
        auto count = infos.size();
        auto sorted = nix::topo_sort(std::move(infos));
        fuzz::check(sorted.size() == count, "topo_sort lost or added paths");
    });
    return 0;
}
