#include "account/secret_values.hpp"

#include "account/password.hpp"
#include "core/error.hpp"
#include "core/io.hpp"
#include "core/process.hpp"

#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <sstream>

namespace fedi::account {

namespace {

bool fedi_chooses_password(const std::string& service) {
    // Mastodon's tootctl makes up the password itself and prints it.
    return service == "pixelfed" || service == "peertube";
}

std::string chomp(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

// The value of a secret, or nothing when it is not known yet.
// A generated value is missing only when planning (choose_missing ran before a deploy).
std::optional<std::string> value_of(const model::Secret& s, const model::Deployment& d,
                                    const Records& r, bool generated_may_be_missing) {
    const auto& src = s.source;
    std::string origin = "secrets." + s.name;
    switch (src.kind) {
    case model::SecretSource::Kind::Generate: {
        auto it = r.secrets.find(s.name);
        if (it != r.secrets.end())
            return it->second.value;
        if (!generated_may_be_missing)
            throw Error(origin + ": no generated value in state");
        return std::nullopt;
    }
    case model::SecretSource::Kind::File: {
        std::string v = read_whole_file(src.file, origin + ".source.file");
        return s.environment_variable ? chomp(v) : v;
    }
    case model::SecretSource::Kind::Command: {
        // stdout is captured, never shown: only the exit status and stderr are reported.
        auto res = run_process(src.command);
        if (!res.ok())
            throw Error(fmt::format("{}.source.command: {} exited with status {}{}{}", origin,
                                    shell_join(src.command), res.exit_code,
                                    res.err.empty() ? "" : ": ", chomp(res.err)));
        return chomp(res.out);
    }
    case model::SecretSource::Kind::Account: {
        auto it = r.accounts.find(src.account);
        if (it == r.accounts.end() || it->second.password.empty())
            return std::nullopt;
        return it->second.password;
    }
    case model::SecretSource::Kind::Identity: {
        auto dir = r.identity.find(src.directory);
        std::string key = src.entry_is_user ? user_key(src.entry) : service_key(src.entry);
        if (dir == r.identity.end() || !dir->second.count(key) ||
            dir->second.at(key).password.empty())
            return std::nullopt;
        return dir->second.at(key).password;
    }
    }
    (void)d;
    return std::nullopt;
}

} // namespace

std::string peertube_env_file(const std::string& account) {
    return "account-" + account + ".env";
}

std::string environment_line(const std::string& variable, const std::string& value,
                             const std::string& origin) {
    if (value.find_first_of("\n\r") != std::string::npos)
        throw Error(fmt::format("{}: the value has a line break and cannot go in an "
                                "environment file",
                                origin));
    static const std::regex plain("^[A-Za-z0-9_.,:/@+=%-]*$");
    if (std::regex_match(value, plain))
        return variable + "=" + value + "\n";
    if (value.find('\'') == std::string::npos)
        return variable + "='" + value + "'\n";
    std::string escaped;
    for (char c : value) {
        if (c == '"' || c == '\\' || c == '$' || c == '`')
            escaped += '\\';
        escaped += c;
    }
    return variable + "=\"" + escaped + "\"\n";
}

bool forget_stale(const model::Deployment& d, Records& r) {
    bool changed = false;
    // A generated value no longer declared is forgotten with its declaration, and one of
    // another length than declared now is made again.
    for (auto it = r.secrets.begin(); it != r.secrets.end();) {
        auto s = d.secrets.find(it->first);
        if (s == d.secrets.end() || s->second.source.kind != model::SecretSource::Kind::Generate ||
            it->second.value.empty() ||
            static_cast<int>(it->second.value.size()) != s->second.source.length) {
            it = r.secrets.erase(it);
            changed = true;
        } else {
            ++it;
        }
    }
    for (const auto& [name, a] : d.accounts) {
        auto& rec = r.accounts[name];
        if (rec.service != a.service || rec.machine != a.machine || rec.username != a.username) {
            // New, or declared differently now: what fedi knew is about another account.
            rec = AccountRecord{};
            rec.service = a.service;
            rec.machine = a.machine;
            rec.username = a.username;
            changed = true;
        }
    }
    for (const auto& [name, dir] : d.identity) {
        auto& entries = r.identity[name];
        auto moved = [&](const std::string& key, const std::string& dn) {
            auto& e = entries[key];
            if (e.dn != dn) {
                e.present = false;
                e.dn = dn;
                changed = true;
            }
        };
        for (const auto& [uid, u] : dir.users)
            moved(user_key(uid), dir.user_dn(uid));
        for (const auto& svc : dir.services)
            moved(service_key(svc), dir.service_dn(svc));
    }
    return changed;
}

namespace {

// Chooses the values forget_stale left missing.
bool fill_missing(const model::Deployment& d, Records& r) {
    bool changed = false;
    for (const auto& [name, s] : d.secrets) {
        if (s.source.kind == model::SecretSource::Kind::Generate && !r.secrets.count(name)) {
            r.secrets[name] = {random_password(s.source.length), state::now_utc()};
            changed = true;
        }
    }
    for (const auto& [name, a] : d.accounts) {
        auto& rec = r.accounts[name];
        if (fedi_chooses_password(a.service) && rec.password.empty()) {
            rec.password = random_password(32);
            changed = true;
        }
    }
    for (const auto& [name, dir] : d.identity) {
        auto& entries = r.identity[name];
        auto ensure = [&](const std::string& key) {
            auto& e = entries[key];
            if (e.password.empty()) {
                e.password = random_password(32);
                changed = true;
            }
        };
        for (const auto& [uid, u] : dir.users)
            ensure(user_key(uid));
        for (const auto& svc : dir.services)
            ensure(service_key(svc));
    }
    return changed;
}

} // namespace

bool choose_missing(const model::Deployment& d, Records& r) {
    bool forgot = forget_stale(d, r);
    bool chose = fill_missing(d, r);
    return forgot || chose;
}

namespace {

// The files whose value `r` holds or their sources give; the others are listed unknown.
MachineSecrets collect_files(const model::Deployment& d, const std::set<std::string>& machines,
                             const Records& r, bool planning) {
    MachineSecrets out;
    for (const auto& [name, s] : d.secrets) {
        bool wanted = false;
        for (const auto& m : s.machines)
            wanted = wanted || machines.count(m);
        if (!wanted)
            continue;
        // A named copy: clang 14 cannot capture a structured binding in a lambda.
        const model::Secret& secret = s;
        auto value = with_context("reading the value of secrets." + name,
                                  [&] { return value_of(secret, d, r, planning); });
        if (!value) {
            out.unresolved.push_back(name);
            for (const auto& m : s.machines)
                if (machines.count(m))
                    out.unknown[m].emplace_back(s.file, "secrets." + name);
            continue;
        }
        host::SecretFile f;
        f.name = s.file;
        f.owner = s.owner;
        f.group = s.group;
        f.mode = s.mode;
        f.origin = "secrets." + name;
        f.content = s.environment_variable
                        ? environment_line(*s.environment_variable, *value, f.origin)
                        : *value;
        host::validate_secret(f);
        for (const auto& m : s.machines)
            if (machines.count(m))
                out.files[m].push_back(f);
    }
    for (const auto& [name, a] : d.accounts) {
        if (a.service != "peertube" || !machines.count(a.machine))
            continue;
        auto it = r.accounts.find(name);
        if (it == r.accounts.end() || it->second.password.empty()) {
            out.unknown[a.machine].emplace_back(peertube_env_file(name), "accounts." + name);
            continue;
        }
        host::SecretFile f;
        f.name = peertube_env_file(name);
        f.origin = "accounts." + name;
        f.content = environment_line("PT_INITIAL_ROOT_PASSWORD", it->second.password, f.origin);
        out.files[a.machine].push_back(f);
    }
    return out;
}

} // namespace

MachineSecrets secret_files(const model::Deployment& d, const std::set<std::string>& machines,
                            const Records& r) {
    return collect_files(d, machines, r, false);
}

MachineSecrets planned_secret_files(const model::Deployment& d,
                                    const std::set<std::string>& machines, const Records& r) {
    return collect_files(d, machines, r, true);
}

} // namespace fedi::account
