#include "model/deployment.hpp"

#include "model/attrs.hpp"
#include "model/checks.hpp"
#include "model/transport.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <functional>
#include <regex>

namespace fedi::model {

namespace {

// `host_required`: false for a provisioned machine, whose address comes from its outputs.
SshTarget parse_ssh(AttrSet ssh, bool host_required = true) {
    SshTarget t;
    if (host_required || ssh.has("host")) {
        t.host = ssh.required_string("host");
        if (t.host.empty())
            ssh.fail("host", "must not be empty");
    }
    t.port = static_cast<int>(ssh.optional_int("port", 1, 65535).value_or(22));
    t.user = ssh.optional_string("user").value_or("root");
    t.host_key = ssh.optional_string("hostKey");
    if (t.host_key) {
        static const std::regex key_re(
            R"(^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*( .*)?$)");
        if (!std::regex_match(*t.host_key, key_re))
            ssh.fail("hostKey", "expected an OpenSSH public key such as \"ssh-ed25519 AAAA...\"");
    }
    t.identity_file = ssh.optional_file("identityFile");
    ssh.finish();
    return t;
}

SystemRef parse_system(AttrSet& machine) {
    const auto* v = machine.get("system");
    if (!v)
        machine.fail("system", "missing (a derivation that builds the machine's system is "
                               "required)");
    if (!is_derivation(*v))
        machine.fail("system", "expected a derivation, got " + describe_value(*v));
    // The evaluation wrapper writes these; anything else is a damaged evaluation.
    auto field = [&](const char* name, bool required) {
        auto it = v->find(name);
        if (it == v->end() && !required)
            return std::string();
        if (it == v->end() || !it->is_string() || (required && it->get<std::string>().empty()))
            machine.fail("system", fmt::format("the evaluated derivation has no {} string", name));
        return it->get<std::string>();
    };
    SystemRef s;
    s.drv_path = field("drvPath", true);
    s.out_path = field("outputPath", true);
    s.name = field("name", false);
    return s;
}

std::vector<HealthCheck> parse_health_checks(AttrSet& m) {
    std::vector<HealthCheck> checks;
    const auto* v = m.get("healthChecks");
    if (!v || v->is_null())
        return checks;
    if (!v->is_array())
        m.fail("healthChecks", "expected a list of checks, got " + describe_value(*v));
    for (std::size_t i = 0; i < v->size(); ++i) {
        AttrSet c((*v)[i], m.child_path("healthChecks") + "." + std::to_string(i));
        HealthCheck h;
        h.command = c.optional_string("command");
        h.http = c.optional_string("http");
        if (h.command.has_value() == h.http.has_value())
            c.fail("", "give exactly one of `command` (run on the machine) or `http` (a URL "
                       "fetched from the deployer)");
        if (h.http && h.http->rfind("http://", 0) != 0 && h.http->rfind("https://", 0) != 0)
            c.fail("http", "expected an http:// or https:// URL");
        h.expect_status = static_cast<int>(c.optional_int("expectStatus", 100, 599).value_or(200));
        h.attempts = static_cast<int>(c.optional_int("attempts", 1, 1000).value_or(5));
        h.interval_seconds = static_cast<int>(c.optional_int("interval", 0, 3600).value_or(2));
        h.timeout_seconds = static_cast<int>(c.optional_int("timeout", 1, 3600).value_or(10));
        c.finish();
        checks.push_back(h);
    }
    return checks;
}

std::optional<Provision> parse_provision(const std::string& machine, AttrSet& m,
                                         const std::map<std::string, ProviderDecl>& providers,
                                         const ProviderParsers& types) {
    auto p = m.optional_set("provision");
    if (!p)
        return std::nullopt;
    Provision out;
    out.provider = p->required_string("provider");
    auto it = providers.find(out.provider);
    if (it == providers.end())
        p->fail("provider", fmt::format("no provider named \"{}\" (declare it as providers.{})",
                                        out.provider, out.provider));
    out.type = it->second.type;
    out.settings = types.find(out.type)->parse_machine(*p, *it->second.settings, machine);
    return out;
}

// How the machine's store paths reach it, besides fedi's push and the deployment's cache.
void parse_transfer_settings(AttrSet& m, Machine& machine) {
    machine.substitute_on_target = m.optional_bool("substituteOnTarget").value_or(false);
}

Machine parse_machine(const std::string& name, AttrSet m,
                      const std::map<std::string, ProviderDecl>& providers,
                      const ProviderParsers& types) {
    Machine machine;
    machine.name = name;
    machine.provision = parse_provision(name, m, providers, types);
    if (machine.provision) {
        if (auto ssh = m.optional_set("ssh")) {
            for (const char* k : {"host", "port", "user", "hostKey", "identityFile"})
                if (ssh->has(k))
                    machine.ssh_given.insert(k);
            machine.ssh = parse_ssh(*ssh, false);
        }
    } else {
        if (!m.has("ssh"))
            m.fail("ssh", "missing (give `ssh` for a machine that exists, or `provision` for "
                          "one fedi creates)");
        machine.ssh = parse_ssh(m.required_set("ssh"));
        machine.ssh_given = {"host", "port", "user", "hostKey", "identityFile"};
    }
    machine.system = parse_system(m);
    machine.tags = m.string_list("tags");
    machine.after = m.string_list("after");
    machine.protect = m.optional_bool("protect").value_or(false);
    machine.health_checks = parse_health_checks(m);
    parse_transfer_settings(m, machine);
    m.finish();
    return machine;
}

void check_references(const Deployment& d) {
    for (const auto& [name, m] : d.machines)
        for (std::size_t i = 0; i < m.after.size(); ++i)
            if (!d.machines.count(m.after[i]))
                throw usage_error(fmt::format("machines.{}.after.{}: no machine named \"{}\"", name,
                                              i, m.after[i]));
    // Depth-first search for a cycle; the message lists the whole cycle.
    std::map<std::string, int> mark; // 0 unvisited, 1 on stack, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& n) {
        mark[n] = 1;
        stack.push_back(n);
        for (const auto& dep : d.machines.at(n).after) {
            if (mark[dep] == 1) {
                std::string cycle;
                auto it = std::find(stack.begin(), stack.end(), dep);
                for (; it != stack.end(); ++it)
                    cycle += *it + " -> ";
                throw usage_error(
                    fmt::format("machines.{}.after: dependency cycle: {}{}", n, cycle, dep));
            }
            if (mark[dep] == 0)
                visit(dep);
        }
        stack.pop_back();
        mark[n] = 2;
    };
    for (const auto& [name, m] : d.machines)
        if (mark[name] == 0)
            visit(name);
}

// secrets.*, accounts.* and the outputs they use must name things that exist.
void check_secret_references(const Deployment& d) {
    for (const auto& [name, a] : d.accounts)
        if (!d.machines.count(a.machine))
            throw usage_error(
                fmt::format("accounts.{}.machine: no machine named \"{}\"", name, a.machine));
    std::map<std::string, std::string> files; // machine/file -> secret
    for (const auto& [name, s] : d.secrets) {
        for (std::size_t i = 0; i < s.machines.size(); ++i) {
            const auto& m = s.machines[i];
            std::string attr = s.machines.size() == 1 ? "machine" : fmt::format("machines.{}", i);
            if (!d.machines.count(m))
                throw usage_error(
                    fmt::format("secrets.{}.{}: no machine named \"{}\"", name, attr, m));
            auto [it, fresh] = files.emplace(m + "/" + s.file, name);
            if (!fresh)
                throw usage_error(fmt::format("secrets.{}.name: secrets.{} already writes {} on {}",
                                              name, it->second, s.file, m));
        }
        const auto& src = s.source;
        if (src.kind == SecretSource::Kind::Account && !d.accounts.count(src.account))
            throw usage_error(fmt::format("secrets.{}.source.fromAccount: no account named \"{}\"",
                                          name, src.account));
        if (src.kind == SecretSource::Kind::Identity) {
            auto it = d.identity.find(src.directory);
            if (it == d.identity.end())
                throw usage_error(fmt::format(
                    "secrets.{}.source.fromIdentity.directory: no identity directory named \"{}\"",
                    name, src.directory));
            const auto& dir = it->second;
            bool found = src.entry_is_user ? dir.users.count(src.entry) > 0
                                           : std::find(dir.services.begin(), dir.services.end(),
                                                       src.entry) != dir.services.end();
            if (!found)
                throw usage_error(
                    fmt::format("secrets.{}.source.fromIdentity.{}: identity.{} has no {} \"{}\"",
                                name, src.entry_is_user ? "user" : "service", src.directory,
                                src.entry_is_user ? "user" : "service", src.entry));
        }
    }
}

// meta: settings of the deployment as a whole.
void parse_meta(AttrSet& top, Deployment& d) {
    auto meta = top.optional_set("meta");
    if (!meta)
        return;
    d.require_selection = meta->optional_bool("requireSelection").value_or(false);
    meta->optional_string("description");
    if (const auto* state = meta->get("state"); state && !state->is_null())
        d.state = parse_state_settings(*state, meta->child_path("state"),
                                       std::filesystem::path(d.file).parent_path().string());
    meta->finish();
}

} // namespace

std::string HealthCheck::describe() const {
    return command ? "command `" + *command + "`" : "GET " + *http;
}

bool valid_machine_name(const std::string& name) {
    static const std::regex re("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
    return std::regex_match(name, re);
}

Deployment parse_deployment(const nlohmann::json& evaluated, const std::string& file,
                            const ProviderParsers& types) {
    Deployment d;
    d.file = file;
    AttrSet top(evaluated, "");
    if (auto providers = top.optional_set("providers")) {
        for (const auto& [name, value] : evaluated["providers"].items()) {
            providers->get(name);
            AttrSet p(value, providers->child_path(name));
            ProviderDecl decl;
            decl.name = name;
            decl.type = p.required_string("type");
            const auto* type = types.find(decl.type);
            if (!type) {
                std::string known;
                for (const auto& t : types.names())
                    known += (known.empty() ? "" : ", ") + t;
                p.fail("type", fmt::format("unknown provider type \"{}\" (expected one of: {})",
                                           decl.type, known));
            }
            decl.settings = type->parse_provider(p);
            d.providers.emplace(name, decl);
        }
    }
    if (auto machines = top.optional_set("machines")) {
        for (const auto& [name, value] : evaluated["machines"].items()) {
            machines->get(name);
            if (!valid_machine_name(name))
                machines->fail(name, "invalid machine name (letters, digits, '.', '_' and '-', "
                                     "starting with a letter or digit)");
            d.machines.emplace(name, parse_machine(name, AttrSet(value, machines->child_path(name)),
                                                   d.providers, types));
        }
    }
    parse_meta(top, d);
    parse_storage_section(top, d.storage, d.buckets);
    d.cache = parse_cache(top, d.storage, d.buckets);
    d.secrets = parse_secrets(top, evaluated, std::filesystem::path(file).parent_path().string());
    d.accounts = parse_accounts(top, evaluated);
    d.identity = parse_identity(top, evaluated);
    top.finish();
    check_references(d);
    check_secret_references(d);
    std::vector<std::string> names;
    for (const auto& [name, m] : d.machines)
        names.push_back(name);
    check_storage_references(d.storage, d.buckets, names);
    check_deployment(d);
    d.warnings = transport_warnings(d);
    return d;
}

namespace {

// {name: to_json(value)} for every entry of `items`.
template <typename Map> nlohmann::json json_of_each(const Map& items) {
    auto j = nlohmann::json::object();
    for (const auto& [name, value] : items)
        j[name] = to_json(value);
    return j;
}

} // namespace

nlohmann::json to_json(const Deployment& d) {
    nlohmann::json machines = nlohmann::json::object();
    for (const auto& [name, m] : d.machines) {
        nlohmann::json ssh = {{"host", m.ssh.host}, {"port", m.ssh.port}, {"user", m.ssh.user}};
        ssh["hostKey"] = m.ssh.host_key ? nlohmann::json(*m.ssh.host_key) : nlohmann::json();
        ssh["identityFile"] =
            m.ssh.identity_file ? nlohmann::json(*m.ssh.identity_file) : nlohmann::json();
        machines[name] = {
            {"ssh", ssh},
            {"system", {{"drvPath", m.system.drv_path}, {"outPath", m.system.out_path}}},
            {"tags", m.tags},
            {"after", m.after},
            {"protect", m.protect},
            {"substituteOnTarget", m.substitute_on_target},
        };
        nlohmann::json checks = nlohmann::json::array();
        for (const auto& h : m.health_checks) {
            nlohmann::json c = {{"attempts", h.attempts},
                                {"interval", h.interval_seconds},
                                {"timeout", h.timeout_seconds}};
            if (h.command)
                c["command"] = *h.command;
            else
                c["http"] = *h.http, c["expectStatus"] = h.expect_status;
            checks.push_back(c);
        }
        machines[name]["healthChecks"] = checks;
        if (m.provision)
            machines[name]["provision"] = {{"provider", m.provision->provider},
                                           {"type", m.provision->type},
                                           {"settings", m.provision->settings->to_json()}};
    }
    nlohmann::json j = {
        {"file", d.file},
        {"meta", {{"requireSelection", d.require_selection}, {"state", to_json(d.state)}}},
        {"machines", machines}};
    j["secrets"] = json_of_each(d.secrets);
    j["accounts"] = json_of_each(d.accounts);
    j["identity"] = json_of_each(d.identity);
    j["warnings"] = nlohmann::json::array();
    for (const auto& w : d.warnings)
        j["warnings"].push_back({{"path", w.path}, {"message", w.message}});
    j["storage"] = json_of_each(d.storage);
    j["buckets"] = json_of_each(d.buckets);
    j["cache"] = d.cache ? to_json(*d.cache) : nlohmann::json();
    j["providers"] = nlohmann::json::object();
    for (const auto& [name, p] : d.providers)
        j["providers"][name] = p.settings->to_json();
    return j;
}

} // namespace fedi::model
