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

namespace {

AccountResult result_for(const model::Account& a) {
    AccountResult r;
    r.name = a.name;
    r.service = a.service;
    r.machine = a.machine;
    r.username = a.username;
    return r;
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

struct Loaded {
    session::Project project;
    std::unique_ptr<session::StateStore> state;
    const model::Account* account = nullptr;
};

Loaded load_for(const AccountCommandOptions& opts, bool lock) {
    Loaded l;
    l.state = session::open_state_file(
        session::resolve_state_file(opts.project),
        lock ? session::StateMode::Locked : session::StateMode::ReadOnly, opts.command_line);
    l.project = session::load_project(opts.project, l.state->snapshot());
    auto it = l.project.deployment.accounts.find(opts.name);
    if (it != l.project.deployment.accounts.end())
        l.account = &it->second;
    return l;
}

const model::Account& declared(const Loaded& l, const std::string& name) {
    if (!l.account)
        throw usage_error(fmt::format("no account named \"{}\" in {} (declare it as "
                                      "accounts.{} first)",
                                      name, l.project.deployment.file, name));
    return *l.account;
}

std::unique_ptr<host::Host> connect_for(const Loaded& l, const model::Account& a) {
    const auto& m = l.project.deployment.machines.at(a.machine);
    return with_context("connecting to " + a.machine, [&] {
        return host::Host::connect(
            host::settings_for(m, state::trusted_host_keys(l.state->snapshot(), m.name)));
    });
}

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
        auto h = s.connector().connect(s.deployment().machines.at(machine));
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

std::vector<AccountListing> list_accounts(const session::ProjectOptions& opts) {
    auto project = session::load_project(opts);
    auto records = load_records(state::load(project.state_file));
    std::map<std::string, AccountListing> out;
    for (const auto& [name, a] : project.deployment.accounts) {
        auto& l = out[name];
        l.name = name;
        l.declared = true;
        l.service = a.service;
        l.machine = a.machine;
        l.username = a.username;
        l.email = a.email;
    }
    for (const auto& [name, rec] : records.accounts) {
        auto& l = out[name];
        l.name = name;
        if (!l.declared) {
            l.service = rec.service;
            l.machine = rec.machine;
            l.username = rec.username;
        }
        if (rec.service == l.service && rec.username == l.username && rec.machine == l.machine) {
            l.present = rec.present;
            l.created = rec.created;
            l.password_changed = rec.password_changed;
            l.password = rec.password;
        }
    }
    std::vector<AccountListing> list;
    for (auto& [name, l] : out)
        list.push_back(std::move(l));
    return list;
}

AccountListing show_account(const AccountCommandOptions& opts) {
    for (auto& l : list_accounts(opts.project))
        if (l.name == opts.name)
            return l;
    throw usage_error(
        fmt::format("no account named \"{}\" (neither declared nor in state)", opts.name));
}

AccountResult create_account(const AccountCommandOptions& opts, ui::Events& ui) {
    auto l = load_for(opts, true);
    const auto& a = declared(l, opts.name);
    auto& st = *l.state;
    st.change([&](state::State& s) {
        auto records = load_records(s);
        if (choose_missing(l.project.deployment, records))
            store_records(s, records);
    });
    auto h = connect_for(l, a);
    return converge_one(*h, a, st, ui);
}

AccountResult reset_account_password(const AccountCommandOptions& opts, ui::Events& ui) {
    auto l = load_for(opts, true);
    const auto& a = declared(l, opts.name);
    auto& st = *l.state;
    auto h = connect_for(l, a);
    auto r = result_for(a);
    auto driver = driver_for(a.service);
    auto pw = with_context(fmt::format("resetting the password of accounts.{}", a.name),
                           [&] { return driver->reset_password(*h, a, random_password(32)); });
    Ensured e;
    e.password = pw;
    record_ensured(st, a, e);
    r.result = "password reset";
    r.new_password = pw;
    ui.info(a.machine,
            fmt::format("account {} ({} {}): password reset", a.name, a.service, a.username));
    if (a.service == "peertube")
        ui.info(a.machine, fmt::format("the next `fedi deploy` updates {} to match",
                                       peertube_env_file(a.name)));
    return r;
}

AccountResult delete_account(const AccountCommandOptions& opts, ui::Events& ui) {
    auto l = load_for(opts, true);
    const auto& a = declared(l, opts.name);
    auto& st = *l.state;
    auto h = connect_for(l, a);
    auto r = result_for(a);
    auto driver = driver_for(a.service);
    with_context(fmt::format("deleting accounts.{}", a.name), [&] { driver->remove(*h, a); });
    st.change([&](state::State& s) {
        auto records = load_records(s);
        records.accounts.erase(a.name);
        store_records(s, records);
    });
    r.result = "deleted";
    ui.info(a.machine, fmt::format("account {} ({} {}): deleted; it is still declared, so the "
                                   "next deploy creates it again",
                                   a.name, a.service, a.username));
    return r;
}

nlohmann::json to_json(const AccountListing& a, bool reveal) {
    nlohmann::json j = {{"name", a.name},
                        {"declared", a.declared},
                        {"service", a.service},
                        {"machine", a.machine},
                        {"username", a.username},
                        {"email", a.email},
                        {"present", a.present},
                        {"created", a.created},
                        {"passwordChanged", a.password_changed},
                        {"passwordKnown", !a.password.empty()}};
    if (reveal)
        j["password"] = a.password.empty() ? nlohmann::json() : nlohmann::json(a.password);
    return j;
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

std::string render_accounts(const std::vector<AccountListing>& list, bool color) {
    std::vector<std::vector<std::string>> rows = {
        {"ACCOUNT", "SERVICE", "MACHINE", "USERNAME", "STATE", "PASSWORD CHANGED"}};
    for (const auto& a : list) {
        std::string state = !a.declared ? "in state only" : (a.present ? "present" : "not created");
        rows.push_back({a.name, a.service, a.machine, a.username, state,
                        a.password_changed.empty() ? "-" : a.password_changed});
    }
    return ui::render_table(rows, color);
}

std::string render_account(const AccountListing& a, bool reveal) {
    std::string out;
    auto line = [&](const std::string& k, const std::string& v) {
        out += fmt::format("{:<17} {}\n", k + ":", v.empty() ? "-" : v);
    };
    line("account", a.name);
    line("service", a.service);
    line("machine", a.machine);
    line("username", a.username);
    line("email", a.email);
    line("declared", a.declared ? "yes" : "no (in state only)");
    line("present", a.present ? "yes" : "no");
    line("created", a.created);
    line("password changed", a.password_changed);
    if (reveal)
        line("password", a.password.empty() ? "(not known to fedi)" : a.password);
    else
        line("password", a.password.empty() ? "(not known to fedi)" : "(hidden: --reveal)");
    return out;
}

} // namespace fedi::account
