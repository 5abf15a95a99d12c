#include "account/deploy_phase.hpp"

#include "account/secret_values.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::account {

BeforeMachines before_machines(const model::Deployment& d, const std::set<std::string>& machines,
                               const StateAccess& st, ui::Events& ui) {
    BeforeMachines out;
    if (d.secrets.empty() && d.accounts.empty() && d.identity.empty())
        return out;
    Records records;
    st.change([&](state::State& s) {
        records = load_records(s);
        if (choose_missing(d, records))
            store_records(s, records);
    });
    for (const auto& [name, dir] : d.identity) {
        ui.info("identity", fmt::format("converging directory {} at {}", name, dir.url));
        auto results = converge_directory(dir, records);
        // A named copy: clang 14 cannot capture a structured binding in a lambda.
        const std::string& directory = name;
        st.change([&](state::State& s) {
            auto now = load_records(s);
            now.identity[directory] = records.identity[directory];
            store_records(s, now);
        });
        for (auto& r : results) {
            if (r.ok())
                ui.info("identity", fmt::format("{}: {}", r.dn, r.result));
            else
                ui.error("identity", fmt::format("{}: {}", r.dn, r.error));
            out.identity.push_back(std::move(r));
        }
    }
    auto files =
        with_context("preparing the secrets", [&] { return secret_files(d, machines, records); });
    out.files = std::move(files.files);
    out.unresolved = std::move(files.unresolved);
    if (!out.unresolved.empty())
        ui.info("", fmt::format("secrets delivered once their account exists: {}",
                                fmt::join(out.unresolved, ", ")));
    return out;
}

std::vector<AccountResult> after_machines(
    const model::Deployment& d, const std::set<std::string>& activated,
    const BeforeMachines& before, const Connect& connect, const StateAccess& st,
    const std::function<std::vector<host::SecretFile>(const std::string&)>& current_files,
    ui::Events& ui) {
    auto results = converge_accounts(d, activated, connect, st, ui);
    if (before.unresolved.empty())
        return results;
    // Secrets that waited for an account: their machines get them now.
    auto records = load_records(st.read());
    auto late = secret_files(d, activated, records);
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
        try {
            auto all = current_files(machine);
            all.insert(all.end(), add.begin(), add.end());
            auto h = connect(machine);
            auto synced = h->sync_secrets(all);
            ui.info(machine, fmt::format("secrets written after its accounts: {}",
                                         fmt::join(synced.written, ", ")));
        } catch (const Error& e) {
            AccountResult r;
            r.name = "(secrets)";
            r.machine = machine;
            r.result = "failed";
            r.error = "delivering secrets after the accounts: " + e.describe();
            ui.error(machine, r.error);
            results.push_back(r);
        }
    }
    return results;
}

} // namespace fedi::account
