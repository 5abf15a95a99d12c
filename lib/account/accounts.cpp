#include "account/accounts.hpp"

#include "account/password.hpp"
#include "account/secret_values.hpp"
#include "account/services.hpp"
#include "core/error.hpp"
#include "session/for_each_machine.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace fedi::account {

AccountResult result_for(const model::Account& a) {
    return {a.name, a.service, a.machine, a.username};
}

// Records what a driver did, at once (a password the service made up exists nowhere else).
void record_ensured(session::StateStore& st, const model::Account& a, const Ensured& e) {
    st.change([&](state::State& s) {
        auto records = load_records(s);
        auto& rec = records.accounts[a.name];
        rec.service = a.service;
        rec.machine = a.machine;
        rec.username = a.username;
        if (e.password) {
            rec.password = *e.password;
            rec.password_changed = state::now_utc();
        }
        if (!rec.present) {
            rec.present = true;
            rec.created = state::now_utc();
        }
        store_records(s, records);
    });
}

AccountResult converge_one(host::Host& h, const model::Account& a, session::StateStore& st,
                           ui::Events& ui) {
    auto r = result_for(a);
    try {
        auto records = load_records(st.snapshot());
        AccountRecord rec = records.accounts[a.name];
        auto driver = driver_for(a.service);
        auto e = with_context(fmt::format("converging accounts.{} ({} {} on {})", a.name, a.service,
                                          a.username, a.machine),
                              [&] { return driver->ensure(h, a, rec); });
        record_ensured(st, a, e);
        r.result = e.created ? "created" : "exists";
        if (e.created)
            r.new_password = e.password ? *e.password : rec.password;
        std::string note;
        if (!e.created && rec.password.empty() && !e.password)
            note = " (its password is not known to fedi: `fedi account reset-password " + a.name +
                   "` sets one)";
        ui.info(a.machine, fmt::format("account {} ({} {}): {}{}", a.name, a.service, a.username,
                                       r.result, note));
    } catch (const Error& e) {
        r.result = "failed";
        r.error = e.describe();
        ui.error(a.machine, fmt::format("account {}: {}", a.name, r.error));
    }
    return r;
}

namespace {

// The accounts of one machine as converge_accounts works through them.
struct MachineAccounts {
    bool connected = false;
    std::vector<AccountResult> results;

    // The machine's work stopped at `error`: its remaining accounts fail with it.
    void fail_rest(const std::vector<const model::Account*>& accounts, const std::string& machine,
                   const std::string& error) {
        for (std::size_t i = results.size(); i < accounts.size(); ++i) {
            auto r = result_for(*accounts[i]);
            r.result = "failed";
            r.error = connected ? error : "cannot connect to " + machine + ": " + error;
            results.push_back(r);
        }
    }
};

} // namespace

std::vector<AccountResult> converge_accounts(session::Session& s,
                                             const std::set<std::string>& machines) {
    std::map<std::string, std::vector<const model::Account*>> by_machine;
    for (const auto& [name, a] : s.deployment().accounts)
        if (machines.count(a.machine))
            by_machine[a.machine].push_back(&a);
    // One entry per machine, made before the workers start: each worker writes its own.
    std::map<std::string, MachineAccounts> results;
    std::vector<session::MachineJob> jobs;
    for (const auto& [machine, accounts] : by_machine) {
        results[machine];
        jobs.push_back({machine, {}});
    }
    session::MachineWork work;
    work.run = [&](const std::string& machine) {
        auto& mine = results.at(machine);
        auto h = s.connector().connect_to_change(s.deployment().machines.at(machine), {});
        mine.connected = true;
        for (const auto* a : by_machine.at(machine))
            mine.results.push_back(converge_one(*h, *a, s.state(), s.events()));
        return true;
    };
    work.on_error = [&](const std::string& machine, const std::string& error) {
        results.at(machine).fail_rest(by_machine.at(machine), machine, error);
    };
    work.on_skipped = [](const std::string&, const std::string&) {};
    session::for_each_machine(jobs, s.limits().machines, work);
    std::vector<AccountResult> out;
    for (auto& [machine, mine] : results)
        for (auto& r : mine.results)
            out.push_back(std::move(r));
    std::sort(out.begin(), out.end(),
              [](const AccountResult& a, const AccountResult& b) { return a.name < b.name; });
    return out;
}

nlohmann::json to_json(const AccountResult& r, bool reveal) {
    nlohmann::json j = {{"name", r.name},
                        {"service", r.service},
                        {"machine", r.machine},
                        {"username", r.username},
                        {"result", r.result}};
    if (!r.error.empty())
        j["error"] = r.error;
    if (reveal && r.new_password)
        j["password"] = *r.new_password;
    return j;
}

} // namespace fedi::account
