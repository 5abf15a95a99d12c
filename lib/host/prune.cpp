#include "host/prune.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "host/paths.hpp"
#include "host/remote_scripts.hpp"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <regex>
#include <set>
#include <sstream>

namespace fedi::host {

namespace {

std::optional<int> parse_int(const std::string& s) {
    int v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0)
        return std::nullopt;
    return v;
}

// Activation ids are fedi's own ("<UTC time>-<pid>-<n>"); anything else in the directory
// is not ours to remove.
bool is_activation_id(const std::string& id) {
    static const std::regex re("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z-[0-9]+-[0-9]+");
    return std::regex_match(id, re);
}

} // namespace

std::string prune_listing_command() {
    return remote_script(RemoteScript::PruneList);
}

PruneListing parse_prune_listing(const std::string& out) {
    static const std::regex link_re("system-([0-9]+)-link");
    PruneListing l;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        auto space = line.find(' ');
        std::string kind = line.substr(0, space);
        std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
        std::smatch m;
        if (kind == "profile") {
            if (std::regex_match(rest, m, link_re))
                l.profile_generation = parse_int(m[1]);
        } else if (kind == "running") {
            l.running = rest;
        } else if (kind == "booted") {
            l.booted = rest;
        } else if (kind == "gen") {
            auto sp = rest.find(' ');
            std::string link = rest.substr(0, sp);
            if (!std::regex_match(link, m, link_re))
                continue;
            auto n = parse_int(m[1]);
            if (!n)
                continue;
            l.generations.push_back({*n, sp == std::string::npos ? "" : rest.substr(sp + 1)});
        } else if (kind == "act") {
            std::istringstream words(rest);
            std::string state, dir, id;
            if (!(words >> state >> dir >> id) || (state != "done" && state != "running"))
                continue;
            if (dir != kActivationDir && dir != kRuntimeActivationDir)
                continue;
            l.activations.push_back({dir, id, state == "done"});
        }
    }
    return l;
}

PrunePlan plan_prune(const PruneListing& l, int keep) {
    PrunePlan plan;
    if (keep < 1)
        throw Error(fmt::format("--keep-generations must be at least 1 (got {})", keep),
                    ErrorKind::Usage);
    // By number: the listing comes from the machine, and a number listed twice (which a
    // sane machine never prints) is in use if any of its lines says so.
    std::set<int> in_use, numbers;
    for (const auto& g : l.generations) {
        numbers.insert(g.number);
        if (!g.system.empty() && (g.system == l.running || g.system == l.booted))
            in_use.insert(g.number);
    }
    if (l.profile_generation)
        in_use.insert(*l.profile_generation);
    std::size_t newer = 0; // generations newer than the one looked at
    for (auto it = numbers.rbegin(); it != numbers.rend(); ++it, ++newer)
        // A generation whose link does not resolve (its system is gone) is no use to
        // keep, but nix-env removes such links as well as any.
        if (newer >= static_cast<std::size_t>(keep) && !in_use.count(*it))
            plan.generations.push_back(*it);
    std::sort(plan.generations.begin(), plan.generations.end());

    std::vector<PruneListing::Activation> done;
    for (const auto& a : l.activations)
        if (a.finished && is_activation_id(a.id))
            done.push_back(a);
    // Ids start with their UTC time: newest last.
    std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    if (done.size() > static_cast<std::size_t>(keep))
        plan.activations.assign(done.begin(), done.end() - keep);
    return plan;
}

std::string prune_command(const PrunePlan& plan) {
    std::vector<std::string> steps;
    if (!plan.generations.empty()) {
        std::vector<std::string> argv = {"nix-env", "-p", kSystemProfile, "--delete-generations"};
        for (int g : plan.generations)
            argv.push_back(std::to_string(g));
        steps.push_back(shell_join(argv));
    }
    for (const auto& a : plan.activations)
        steps.push_back(
            shell_join({"rm", "-f", a.dir + "/" + a.id + ".log", a.dir + "/" + a.id + ".result"}));
    if (steps.empty())
        return "true";
    return fmt::format("set -e; {}", fmt::join(steps, "; "));
}

PruneResult prune_machine(Host& host, int keep) {
    auto listed = host.run(prune_listing_command());
    if (listed.exit_status != 0)
        throw Error(fmt::format("cannot list the system generations and activation logs "
                                "(exit status {}): {}",
                                listed.exit_status, listed.err));
    auto plan = plan_prune(parse_prune_listing(listed.out), keep);
    PruneResult result;
    if (plan.empty())
        return result;
    auto removed = host.run(prune_command(plan));
    if (removed.exit_status != 0)
        throw Error(fmt::format("cannot remove old generations {} (exit status {}): {}",
                                fmt::join(plan.generations, ", "), removed.exit_status,
                                removed.err));
    result.generations = plan.generations;
    result.activation_logs = plan.activations.size();
    return result;
}

} // namespace fedi::host
