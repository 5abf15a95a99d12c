// What a machine prints while fedi follows an activation, and the listings that status
// and --keep-generations read. The activated system controls much of this output, so
// the parsers must never let it pass for fedi's own records.
#include "fuzz.hpp"
#include "host/activation_protocol.hpp"
#include "host/prune.hpp"

#include <algorithm>
#include <sstream>

using namespace fedi;

namespace {

const std::string kToken = "Zq8v2LmK4xT9bW3nR7yC1dF6gH5jP0sA";

void follow_lines(const std::string& out) {
    using Kind = host::FollowRecord::Kind;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        auto r = host::parse_follow_line(line, kToken);
        // Only a line carrying the token can be a record of the script's.
        if (line.rfind("@" + kToken + " ", 0) != 0)
            fuzz::check(r.kind == Kind::Log || r.kind == Kind::Noise,
                        "a line without the token became a protocol record");
        if (line.rfind("| ", 0) == 0)
            fuzz::check(r.kind == Kind::Log, "a framed log line became something else");
    }
}

// The whole output as one follow: how it ended, and the result it names, parsed.
void follow_end(const std::string& out) {
    host::FollowReader reader(kToken);
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        reader.read(line);
        lines.push_back(line);
    }
    host::parse_revert_steps(lines);
    auto end = reader.end(!out.empty() && out.back() == '\n');
    auto r = host::parse_activation_result(end.text);
    if (!r)
        return;
    using Status = host::ActivationResult::Status;
    fuzz::check(!(r->rolled_back && r->rollback_failed), "rolled back and rollback failed");
    fuzz::check(r->exit_code.has_value() == (r->status == Status::Failed),
                "an exit code without a failure, or a failure without one");
    fuzz::check(r->status != Status::Ok || !(r->rolled_back || r->rollback_failed),
                "an ok result that was rolled back");
}

void prune_plans(const std::string& out) {
    auto listing = host::parse_prune_listing(out);
    for (int keep : {1, 3}) {
        auto plan = host::plan_prune(listing, keep);
        for (int g : plan.generations) {
            fuzz::check(!listing.profile_generation || g != *listing.profile_generation,
                        "the profile's generation would be removed");
            for (const auto& gen : listing.generations)
                if (gen.number == g)
                    fuzz::check(gen.system.empty() ||
                                    (gen.system != listing.running && gen.system != listing.booted),
                                "the running or booted generation would be removed");
        }
        for (const auto& a : plan.activations)
            fuzz::check(a.finished, "an unfinished activation would be removed");
        fuzz::check(std::is_sorted(plan.generations.begin(), plan.generations.end()),
                    "generations to remove out of order");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto out = fuzz::bytes(data, size);
    fuzz::refused_or_parsed([&] { follow_lines(out); });
    fuzz::refused_or_parsed([&] { follow_end(out); });
    fuzz::refused_or_parsed([&] { host::parse_pending_confirmations(out); });
    fuzz::refused_or_parsed([&] { prune_plans(out); });
    return 0;
}
