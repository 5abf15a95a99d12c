#include "report/deploy_report.hpp"

#include "ui/output.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::report {

namespace {

using deploy::MachineReport;
using deploy::Outcome;

nlohmann::json machine_json(const MachineReport& m) {
    nlohmann::json j = {{"name", m.name},
                        {"result", to_string(m.outcome)},
                        {"system", m.system},
                        {"pathsSent", m.paths_sent},
                        {"bytesSent", m.bytes_sent},
                        {"narBytes", m.nar_bytes},
                        {"seconds", m.seconds}};
    j["generation"] = m.generation ? nlohmann::json(*m.generation) : nlohmann::json();
    if (m.phase != deploy::Phase::None)
        j["failedPhase"] = to_string(m.phase);
    if (!m.error.empty())
        j["error"] = m.error;
    if (!m.log_tail.empty() && m.outcome == Outcome::Failed)
        j["logTail"] = m.log_tail;
    // What the machine fetched itself (NAR bytes), when it did.
    if (m.cache_paths > 0 || m.substituter_paths > 0)
        j["fetched"] = {
            {"cache", {{"paths", m.cache_paths}, {"narBytes", m.cache_bytes}}},
            {"substituters", {{"paths", m.substituter_paths}, {"narBytes", m.substituter_bytes}}}};
    return j;
}

nlohmann::json upload_json(const deploy::DeployReport& r) {
    nlohmann::json j = {{"bytes", r.bytes_uploaded()}, {"cache", nullptr}};
    if (r.cache)
        j["cache"] = {{"url", r.cache->url},
                      {"pathsUploaded", r.cache->paths_uploaded},
                      {"pathsPresent", r.cache->paths_present},
                      {"bytesUploaded", r.cache->bytes_uploaded}};
    return j;
}

// Where the machine's paths came from besides the push: "cache 40 (12 MiB)" and the like.
std::string fetched_cell(const MachineReport& m) {
    std::vector<std::string> parts;
    if (m.cache_paths > 0)
        parts.push_back(
            fmt::format("cache {} ({})", m.cache_paths, ui::human_bytes(m.cache_bytes)));
    if (m.substituter_paths > 0)
        parts.push_back(fmt::format("substituters {} ({})", m.substituter_paths,
                                    ui::human_bytes(m.substituter_bytes)));
    return fmt::format("{}", fmt::join(parts, ", "));
}

std::string first_line(const std::string& text) {
    return text.substr(0, text.find('\n'));
}

std::string machine_detail(const MachineReport& m) {
    if (m.outcome == Outcome::Failed)
        return to_string(m.phase) + ": " + first_line(m.error);
    if (m.outcome == Outcome::Skipped)
        return m.error;
    if (!m.state_error.empty())
        return "not recorded in state: " + first_line(m.state_error);
    if (m.generation)
        return fmt::format("generation {}", *m.generation);
    return "";
}

bool any_fetched(const deploy::DeployReport& r) {
    return std::any_of(r.machines.begin(), r.machines.end(), [](const MachineReport& m) {
        return m.cache_paths > 0 || m.substituter_paths > 0;
    });
}

// FETCHED (what machines got from the cache or their substituters) only when some did.
std::string machines_table(const deploy::DeployReport& r, bool color) {
    bool fetched = any_fetched(r);
    std::vector<std::vector<std::string>> rows = {
        {"MACHINE", "RESULT", "PATHS SENT", "BYTES SENT", "TIME", "DETAIL"}};
    if (fetched)
        rows[0].insert(rows[0].begin() + 4, "FETCHED");
    for (const auto& m : r.machines) {
        rows.push_back({m.name, to_string(m.outcome), std::to_string(m.paths_sent),
                        ui::human_bytes(m.bytes_sent), ui::human_duration(m.seconds),
                        machine_detail(m)});
        if (fetched)
            rows.back().insert(rows.back().begin() + 4, fetched_cell(m));
    }
    return ui::render_table(rows, color);
}

// The deployer's upload, when a machine fetched anything itself.
std::string upload_line(const deploy::DeployReport& r) {
    if (!r.cache && !any_fetched(r))
        return "";
    std::string line = fmt::format("uploaded {} in all", ui::human_bytes(r.bytes_uploaded()));
    if (r.cache)
        line += fmt::format(" (binary cache {}: {} paths sent, {} there already, {})", r.cache->url,
                            r.cache->paths_uploaded, r.cache->paths_present,
                            ui::human_bytes(r.cache->bytes_uploaded));
    return line + "\n";
}

std::string storage_lines(const storage::ConvergeReport& s) {
    std::string out;
    auto items = [&](const char* kind, const std::vector<storage::ItemResult>& list) {
        for (const auto& item : list) {
            auto subject = fmt::format("{} {}", kind, item.name);
            if (!item.ok)
                out += fmt::format("{}: FAILED: {}\n", subject, item.error);
            for (const auto& c : item.changes)
                out += fmt::format("{}: {}\n", subject, c);
        }
    };
    items("storage", s.storages);
    items("bucket", s.buckets);
    for (const auto& u : s.undeclared)
        out += "note: " + u + "\n";
    return out;
}

std::string accounts_tables(const deploy::DeployReport& r, bool color) {
    std::string out;
    if (!r.accounts.empty()) {
        std::vector<std::vector<std::string>> acc = {
            {"ACCOUNT", "SERVICE", "MACHINE", "USERNAME", "RESULT", "DETAIL"}};
        for (const auto& a : r.accounts)
            acc.push_back(
                {a.name, a.service, a.machine, a.username, a.result, first_line(a.error)});
        out += "\n";
        out += ui::render_table(acc, color);
    }
    if (!r.identity.empty()) {
        std::vector<std::vector<std::string>> ids = {{"DIRECTORY", "ENTRY", "RESULT", "DETAIL"}};
        for (const auto& i : r.identity)
            ids.push_back({i.directory, i.dn, i.result, first_line(i.error)});
        out += "\n";
        out += ui::render_table(ids, color);
    }
    return out;
}

} // namespace

nlohmann::json to_json(const deploy::DeployReport& r) {
    nlohmann::json machines = nlohmann::json::array();
    for (const auto& m : r.machines)
        machines.push_back(machine_json(m));
    nlohmann::json j = {{"goal", to_string(r.goal)},
                        {"ok", r.ok()},
                        {"machines", machines},
                        {"upload", upload_json(r)}};
    if (!r.accounts.empty() || !r.identity.empty()) {
        j["accounts"] = nlohmann::json::array();
        for (const auto& a : r.accounts)
            j["accounts"].push_back(account::to_json(a, false)); // passwords: fedi account show
        j["identity"] = nlohmann::json::array();
        for (const auto& i : r.identity)
            j["identity"].push_back(account::to_json(i));
    }
    if (r.storage)
        j["storage"] = storage::to_json(*r.storage);
    if (!r.errors.empty())
        j["errors"] = r.errors;
    return j;
}

std::string render_summary(const deploy::DeployReport& r, bool color) {
    std::string out = machines_table(r, color) + upload_line(r);
    if (r.storage)
        out += storage_lines(*r.storage);
    out += accounts_tables(r, color);
    for (const auto& e : r.errors)
        out += "error: " + e + "\n";
    return out;
}

} // namespace fedi::report
