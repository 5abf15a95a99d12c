#include "account/accounts.hpp"

#include "account/password.hpp"
#include "account/secret_values.hpp"
#include "account/services.hpp"
#include "core/error.hpp"

#include <fmt/format.h>
#include <map>
#include <mutex>
#include <thread>

namespace fedi::account {

AccountResult result_for(const model::Account& a) {
    AccountResult r;
    r.name = a.name;
    r.service = a.service;
    r.machine = a.machine;
    r.username = a.username;
    return r;
}

// Records what a driver did, at once (a password the service made up exists nowhere else).
void record_ensured(const StateAccess& st, const model::Account& a, const Ensured& e) {
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

AccountResult converge_one(host::Host& h, const model::Account& a, const StateAccess& st,
                           ui::Events& ui) {
    auto r = result_for(a);
    try {
        auto records = load_records(st.read());
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

std::unique_ptr<host::Host> connect_machine(const model::Machine& m, const state::State& st) {
    return host::Host::connect(host::settings_for(m, state::trusted_host_keys(st, m.name)));
}

std::vector<AccountResult> converge_accounts(const model::Deployment& d,
                                             const std::set<std::string>& machines,
                                             const Connect& connect, const StateAccess& st,
                                             ui::Events& ui) {
    std::map<std::string, std::vector<const model::Account*>> by_machine;
    for (const auto& [name, a] : d.accounts)
        if (machines.count(a.machine))
            by_machine[a.machine].push_back(&a);
    std::map<std::string, std::vector<AccountResult>> results;
    std::mutex mutex;
    std::vector<std::thread> threads;
    for (const auto& [machine, accounts] : by_machine) {
        threads.emplace_back([&, machine = machine, accounts = accounts] {
            std::vector<AccountResult> mine;
            std::unique_ptr<host::Host> h;
            std::string connect_error;
            try {
                h = connect(machine);
            } catch (const Error& e) {
                connect_error = e.describe();
            } catch (const std::exception& e) {
                connect_error = e.what();
            }
            for (const auto* a : accounts) {
                if (!h) {
                    auto r = result_for(*a);
                    r.result = "failed";
                    r.error = "cannot connect to " + machine + ": " + connect_error;
                    mine.push_back(r);
                    continue;
                }
                mine.push_back(converge_one(*h, *a, st, ui));
            }
            std::lock_guard<std::mutex> lock(mutex);
            results[machine] = std::move(mine);
        });
    }
    for (auto& t : threads)
        t.join();
    std::vector<AccountResult> out;
    for (auto& [machine, list] : results)
        for (auto& r : list)
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
