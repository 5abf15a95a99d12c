// The state file: whatever a damaged, hand-edited or newer fedi's state.json holds, fedi
// reads it or refuses it naming the file, and what it reads writes back the same.
#include "fuzz.hpp"
#include "state/state.hpp"

using namespace fedi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::refused_or_parsed([&] {
        auto s = state::parse(fuzz::bytes(data, size), "/fuzz/state.json");
        // Round trip: what was read and written again reads back to the same document
        // (unknown fields included).
        auto written = state::to_json(s);
        auto again = state::from_json(written, "/fuzz/state.json");
        fuzz::check(state::to_json(again) == written, "state does not round-trip");
    });
    return 0;
}
