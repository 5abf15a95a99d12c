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

struct Loaded {
    session::Project project;
    std::unique_ptr<state::Lock> lock;
    const model::Account* account = nullptr;
};

Loaded load_for(const AccountCommandOptions& opts, bool lock) {
    Loaded l;
    if (lock)
        l.lock = state::Lock::acquire(session::resolve_state_file(opts.project), opts.command_line);
    l.project = session::load_project(opts.project);
    auto it = l.project.deployment.accounts.find(opts.name);
    if (it != l.project.deployment.accounts.end())
        l.account = &it->second;
    return l;
}

StateAccess file_state(const std::string& file) {
    StateAccess st;
    st.read = [file] { return state::load(file); };
    st.change = [file](const std::function<void(state::State&)>& f) {
        auto s = state::load(file);
        f(s);
        state::save(file, s);
    };
    return st;
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
    return with_context("connecting to " + a.machine,
                        [&] { return connect_machine(m, state::load(l.project.state_file)); });
}

} // namespace

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
    auto st = file_state(l.project.state_file);
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
    auto st = file_state(l.project.state_file);
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
    auto st = file_state(l.project.state_file);
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
