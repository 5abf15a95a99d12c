// The state file: whatever a damaged, hand-edited or newer fedi's state.json holds, fedi
// reads it (and the records kept in it: provisioned machines, secrets and accounts,
// buckets) or refuses it naming what is damaged, and what it reads writes back the same.
#include "account/records.hpp"
#include "fuzz.hpp"
#include "provider/provider.hpp"
#include "state/state.hpp"
#include "storage/storage_state.hpp"

using namespace fedi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    state::State s;
    try {
        s = state::parse(fuzz::bytes(data, size), "/fuzz/state.json");
    } catch (const Error&) {
        return 0;
    }
    // Round trip: what was read and written again reads back to the same document
    // (unknown fields included).
    auto written = state::to_json(s);
    auto again = state::from_json(written, "/fuzz/state.json");
    fuzz::check(state::to_json(again) == written, "state does not round-trip");

    fuzz::refused_or_parsed([&] { provider::records(s); });
    fuzz::refused_or_parsed([&] { provider::resources(s); });
    fuzz::refused_or_parsed([&] { account::load_records(s); });
    fuzz::refused_or_parsed([&] { storage::storage_state_of(s); });
    return 0;
}
