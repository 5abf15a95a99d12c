#include "account/deploy_phase.hpp"

#include "account/secret_values.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::account {

namespace {

// Converges one identity directory, recording what it made as it goes.
void converge_identity(session::Session& s, const std::string& directory,
                       const model::IdentityDirectory& dir, Records& records, BeforeMachines& out) {
    auto& ui = s.events();
    ui.info("identity", fmt::format("converging directory {} at {}", directory, dir.url));
    auto results = converge_directory(dir, records);
    s.state().change([&](state::State& st) {
        auto now = load_records(st);
        now.identity[directory] = records.identity[directory];
        store_records(st, now);
    });
    for (auto& r : results) {
        if (r.ok())
            ui.info("identity", fmt::format("{}: {}", r.dn, r.result));
        else
            ui.error("identity", fmt::format("{}: {}", r.dn, r.error));
        out.identity.push_back(std::move(r));
    }
}

// The secrets that waited for an account, delivered to `machine` with the rest of its
// files; a failure is reported as a "(secrets)" result.
void deliver_late(session::Session& s, const std::string& machine,
                  std::vector<host::SecretFile> all, std::vector<AccountResult>& results) {
    try {
        auto h = s.connector().connect_to_change(s.deployment().machines.at(machine), {});
        auto synced = h->sync_secrets(all);
        s.events().info(machine, fmt::format("secrets written after its accounts: {}",
                                             fmt::join(synced.written, ", ")));
    } catch (const Error& e) {
        AccountResult r;
        r.name = "(secrets)";
        r.machine = machine;
        r.result = "failed";
        r.error = "delivering secrets after the accounts: " + e.describe();
        s.events().error(machine, r.error);
        results.push_back(r);
    }
}

} // namespace

BeforeMachines before_machines(session::Session& s, const std::set<std::string>& machines) {
    BeforeMachines out;
    const auto& d = s.deployment();
    if (d.secrets.empty() && d.accounts.empty() && d.identity.empty())
        return out;
    Records records;
    s.state().change([&](state::State& st) {
        records = load_records(st);
        if (choose_missing(d, records))
            store_records(st, records);
    });
    for (const auto& [name, dir] : d.identity)
        converge_identity(s, name, dir, records, out);
    auto files =
        with_context("preparing the secrets", [&] { return secret_files(d, machines, records); });
    out.files = std::move(files.files);
    out.unresolved = std::move(files.unresolved);
    if (!out.unresolved.empty())
        s.events().info("", fmt::format("secrets delivered once their account exists: {}",
                                        fmt::join(out.unresolved, ", ")));
    return out;
}

std::vector<AccountResult> after_machines(
    session::Session& s, const std::set<std::string>& activated, const BeforeMachines& before,
    const std::function<std::vector<host::SecretFile>(const std::string&)>& current_files) {
    auto results = converge_accounts(s, activated);
    if (before.unresolved.empty())
        return results;
    // Secrets that waited for an account: their machines get them now.
    auto records = load_records(s.state().snapshot());
    auto late = secret_files(s.deployment(), activated, records);
    std::set<std::string> waited;
    for (const auto& n : before.unresolved)
        waited.insert("secrets." + n);
    for (const auto& [machine, files] : late.files) {
        std::vector<host::SecretFile> add;
        for (const auto& f : files)
            if (waited.count(f.origin))
                add.push_back(f);
        if (add.empty())
            continue;
        auto all = current_files(machine);
        all.insert(all.end(), add.begin(), add.end());
        deliver_late(s, machine, std::move(all), results);
    }
    return results;
}

} // namespace fedi::account
