#include "account/commands.hpp"

#include "account/password.hpp"
#include "account/secret_values.hpp"
#include "account/services.hpp"
#include "core/error.hpp"
#include "ui/output.hpp"

#include <fmt/format.h>
#include <map>

namespace fedi::account {

namespace {

const model::Account& declared(const session::Session& s, const std::string& name) {
    const auto& d = s.deployment();
    auto it = d.accounts.find(name);
    if (it == d.accounts.end())
        throw usage_error(fmt::format("no account named \"{}\" in {} (declare it as "
                                      "accounts.{} first)",
                                      name, d.file, name));
    return it->second;
}

std::unique_ptr<host::Host> connect_for(session::Session& s, const model::Account& a) {
    const auto& m = s.deployment().machines.at(a.machine);
    return with_context("connecting to " + a.machine,
                        [&] { return s.connector().connect_to_change(m, {}); });
}

// A declared account with its machine connected and its service's driver.
struct Reached {
    const model::Account& account;
    std::unique_ptr<host::Host> host;
    std::unique_ptr<ServiceDriver> driver;
};

Reached reach(session::Session& s, const std::string& name) {
    const auto& a = declared(s, name);
    return {a, connect_for(s, a), driver_for(a.service)};
}

// Opens the session a command needs: locked when it changes an account.
std::unique_ptr<session::Session> open(const session::SessionOptions& opts, session::StateMode mode,
                                       ui::Events& ui) {
    auto options = opts;
    options.state_mode = mode;
    return session::open_session(options, ui);
}

void add_declared(std::map<std::string, AccountListing>& out, const model::Deployment& d) {
    for (const auto& [name, a] : d.accounts) {
        auto& l = out[name];
        l.name = name;
        l.declared = true;
        l.service = a.service;
        l.machine = a.machine;
        l.username = a.username;
        l.email = a.email;
    }
}

// What state records; of a declared account only when it is the same account.
void add_recorded(std::map<std::string, AccountListing>& out, const Records& records) {
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
}

} // namespace

std::vector<AccountListing> list_accounts(session::Session& s) {
    std::map<std::string, AccountListing> out;
    add_declared(out, s.deployment());
    add_recorded(out, load_records(s.state().snapshot()));
    std::vector<AccountListing> list;
    for (auto& [name, l] : out)
        list.push_back(std::move(l));
    return list;
}

std::vector<AccountListing> list_accounts(const session::SessionOptions& opts, ui::Events& ui) {
    return list_accounts(*open(opts, session::StateMode::ReadOnly, ui));
}

AccountListing show_account(const AccountCommandOptions& opts, ui::Events& ui) {
    for (auto& l : list_accounts(opts.session, ui))
        if (l.name == opts.name)
            return l;
    throw usage_error(
        fmt::format("no account named \"{}\" (neither declared nor in state)", opts.name));
}

AccountResult create_account(session::Session& s, const std::string& name) {
    const auto& a = declared(s, name);
    s.state().change([&](state::State& st) {
        auto records = load_records(st);
        if (choose_missing(s.deployment(), records))
            store_records(st, records);
    });
    auto h = connect_for(s, a);
    return converge_one(*h, a, s.state(), s.events());
}

AccountResult create_account(const AccountCommandOptions& opts, ui::Events& ui) {
    return create_account(*open(opts.session, session::StateMode::Locked, ui), opts.name);
}

AccountResult reset_account_password(session::Session& s, const std::string& name) {
    auto reached = reach(s, name);
    const auto& a = reached.account;
    auto r = result_for(a);
    auto pw = with_context(fmt::format("resetting the password of accounts.{}", a.name), [&] {
        return reached.driver->reset_password(*reached.host, a, random_password(32));
    });
    Ensured e;
    e.password = pw;
    record_ensured(s.state(), a, e);
    r.result = "password reset";
    r.new_password = pw;
    s.events().info(a.machine, fmt::format("account {} ({} {}): password reset", a.name, a.service,
                                           a.username));
    if (a.service == "peertube")
        s.events().info(a.machine, fmt::format("the next `fedi deploy` updates {} to match",
                                               peertube_env_file(a.name)));
    return r;
}

AccountResult reset_account_password(const AccountCommandOptions& opts, ui::Events& ui) {
    return reset_account_password(*open(opts.session, session::StateMode::Locked, ui), opts.name);
}

AccountResult delete_account(session::Session& s, const std::string& name) {
    auto reached = reach(s, name);
    const auto& a = reached.account;
    auto r = result_for(a);
    with_context(fmt::format("deleting accounts.{}", a.name),
                 [&] { reached.driver->remove(*reached.host, a); });
    s.state().change([&](state::State& st) {
        auto records = load_records(st);
        records.accounts.erase(a.name);
        store_records(st, records);
    });
    r.result = "deleted";
    s.events().info(a.machine, fmt::format("account {} ({} {}): deleted; it is still declared, "
                                           "so the next deploy creates it again",
                                           a.name, a.service, a.username));
    return r;
}

AccountResult delete_account(const AccountCommandOptions& opts, ui::Events& ui) {
    return delete_account(*open(opts.session, session::StateMode::Locked, ui), opts.name);
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
