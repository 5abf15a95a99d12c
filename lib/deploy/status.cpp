#include "deploy/status.hpp"

#include "core/error.hpp"
#include "deploy/per_machine.hpp"
#include "deploy/selection.hpp"
#include "host/host.hpp"
#include "ui/output.hpp"

#include <fmt/format.h>

namespace fedi::deploy {

namespace {

std::string short_path(const std::string& p) {
    // /nix/store/<hash>-name: the hash's first 8 characters and the name are enough to
    // tell systems apart in a table.
    const std::string prefix = "/nix/store/";
    if (p.rfind(prefix, 0) != 0 || p.size() < prefix.size() + 33)
        return p;
    return p.substr(prefix.size(), 8) + ".." + p.substr(prefix.size() + 32);
}

std::string verdict(const MachineStatus& s) {
    if (!s.probed)
        return s.probe_error.empty() ? (s.generations.empty() ? "never deployed" : "not probed")
                                     : "unreachable";
    // Whatever it runs, it will not keep it unless someone confirms (a deploy in progress,
    // or one whose fedi died).
    if (s.reverts_in)
        return *s.reverts_in > 0
                   ? fmt::format("awaiting confirmation (reverts in {} s)", *s.reverts_in)
                   : "reverting an unconfirmed activation";
    if (s.current.empty() && s.profile.empty())
        return "never deployed";
    if (s.current == s.wanted && s.profile == s.wanted)
        return "up to date";
    if (!s.generations.empty() && s.current != s.generations.back().system)
        return "drifted";
    return "outdated";
}

// What the machine runs now and the secrets it holds.
void ask_machine(session::Connector& connector, const model::Machine& m, MachineStatus& s) {
    auto h = connector.connect(m);
    auto sys = h->system_status();
    s.profile = sys.profile;
    s.current = sys.current;
    s.generation = sys.generation;
    s.reverts_in = sys.reverts_in;
    s.secrets = h->list_secrets();
    s.probed = true;
}

} // namespace

std::vector<MachineStatus> collect_status(session::Session& s, const std::vector<std::string>& on,
                                          bool probe) {
    const auto& d = s.deployment();
    auto selected = select_machines(d, on);
    auto st = s.state().snapshot();
    PerMachine<MachineStatus> out(selected);
    for (const auto& name : selected) {
        auto& status = out[name];
        status.wanted = d.machines.at(name).system.out_path;
        if (auto it = st.machines.find(name); it != st.machines.end())
            status.generations = it->second.generations;
    }
    if (probe) {
        session::MachineWork work;
        work.run = [&](const std::string& name) {
            ask_machine(s.connector(), d.machines.at(name), out[name]);
            return true;
        };
        work.on_error = [&](const std::string& name, const std::string& error) {
            out[name].probe_error = error;
        };
        work.on_skipped = [](const std::string&, const std::string&) {};
        session::for_each_machine(session::independent_jobs(selected), s.limits().machines, work);
    }
    for (auto& status : out.all())
        status.verdict = verdict(status);
    return std::move(out.all());
}

std::vector<MachineStatus> collect_status(const StatusOptions& opts, ui::Events& events) {
    auto options = opts.session;
    options.state_mode = session::StateMode::ReadOnly;
    options.connect.connect_timeout = std::chrono::seconds(10);
    auto s = session::open_session(options, events);
    return collect_status(*s, opts.on, opts.probe);
}

std::optional<state::Generation>
previous_generation(const std::vector<state::Generation>& generations) {
    if (generations.empty())
        return std::nullopt;
    const auto& now = generations.back();
    for (auto it = generations.rbegin() + 1; it != generations.rend(); ++it) {
        if (it->system == now.system)
            continue;
        // After a rollback the newer generation comes earlier in the history: skip it.
        if (now.number && it->number && *it->number >= *now.number)
            continue;
        return *it;
    }
    return std::nullopt;
}

nlohmann::json to_json(const std::vector<MachineStatus>& list) {
    nlohmann::json machines = nlohmann::json::array();
    for (const auto& s : list) {
        nlohmann::json gens = nlohmann::json::array();
        for (const auto& g : s.generations) {
            nlohmann::json gj = {{"system", g.system}, {"time", g.time}, {"goal", g.goal}};
            gj["number"] = g.number ? nlohmann::json(*g.number) : nlohmann::json();
            gens.push_back(gj);
        }
        nlohmann::json j = {{"name", s.name},
                            {"wanted", s.wanted},
                            {"status", s.verdict},
                            {"generations", gens},
                            {"probed", s.probed}};
        if (s.probed) {
            j["profile"] = s.profile;
            j["current"] = s.current;
            j["generation"] = s.generation ? nlohmann::json(*s.generation) : nlohmann::json();
            j["revertsInSeconds"] = s.reverts_in ? nlohmann::json(*s.reverts_in) : nlohmann::json();
        }
        if (!s.probe_error.empty())
            j["error"] = s.probe_error;
        if (s.probed) {
            j["secrets"] = nlohmann::json::array();
            for (const auto& f : s.secrets)
                j["secrets"].push_back({{"name", f.name},
                                        {"owner", f.owner},
                                        {"group", f.group},
                                        {"mode", fmt::format("{:04o}", f.mode)}});
        }
        machines.push_back(j);
    }
    return {{"machines", machines}};
}

std::string render_status(const std::vector<MachineStatus>& list, bool color) {
    std::vector<std::vector<std::string>> rows = {
        {"MACHINE", "STATUS", "GENERATION", "RUNNING", "PREVIOUS", "LAST DEPLOY"}};
    for (const auto& s : list) {
        std::string gen = s.generation ? std::to_string(*s.generation) : "-";
        std::string previous = "-";
        if (auto p = previous_generation(s.generations))
            previous = (p->number ? std::to_string(*p->number) + " " : "") + short_path(p->system);
        std::string last = s.generations.empty() ? "-" : s.generations.back().time;
        std::string running = s.probed ? (s.current.empty() ? "-" : short_path(s.current)) : "?";
        rows.push_back({s.name, s.verdict, gen, running, previous, last});
    }
    std::string out = ui::render_table(rows, color);
    std::vector<std::vector<std::string>> secrets = {{"MACHINE", "SECRET", "OWNER", "MODE"}};
    for (const auto& s : list)
        for (const auto& f : s.secrets)
            secrets.push_back(
                {s.name, f.name, f.owner + ":" + f.group, fmt::format("{:04o}", f.mode)});
    if (secrets.size() > 1) {
        out += '\n';
        out += ui::render_table(secrets, color);
    }
    for (const auto& s : list)
        if (!s.probe_error.empty())
            out +=
                fmt::format("{}: {}\n", s.name, s.probe_error.substr(0, s.probe_error.find('\n')));
    return out;
}

} // namespace fedi::deploy
