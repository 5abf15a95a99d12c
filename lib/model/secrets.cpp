#include "model/secrets.hpp"

#include "core/process.hpp"
#include "model/attrs.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <regex>

namespace fedi::model {

namespace {

SecretSource parse_source(AttrSet src, const std::string& base_dir) {
    SecretSource s;
    std::vector<std::string> given;
    for (const char* k : {"generate", "file", "command", "fromAccount", "fromIdentity"})
        if (src.has(k))
            given.push_back(k);
    if (given.size() != 1)
        src.fail("", "give exactly one of generate, file, command, fromAccount, fromIdentity");
    const std::string& kind = given.front();
    if (kind == "generate") {
        s.kind = SecretSource::Kind::Generate;
        auto* v = src.get("generate");
        if (!v->is_boolean() || !v->get<bool>()) {
            AttrSet g(*v, src.child_path("generate"));
            s.length = static_cast<int>(g.optional_int("length", 8, 4096).value_or(32));
            g.finish();
        }
    } else if (kind == "file") {
        s.kind = SecretSource::Kind::File;
        std::filesystem::path p = *src.optional_file("file");
        if (p.empty())
            src.fail("file", "must not be empty");
        if (p.is_relative())
            p = std::filesystem::path(base_dir) / p;
        s.file = p.lexically_normal().string();
    } else if (kind == "command") {
        s.kind = SecretSource::Kind::Command;
        const auto* v = src.get("command");
        if (v->is_string())
            s.command = {"/bin/sh", "-c", v->get<std::string>()};
        else
            s.command = src.string_list("command");
        if (s.command.empty() || s.command.back().empty())
            src.fail("command", "must not be empty");
    } else if (kind == "fromAccount") {
        s.kind = SecretSource::Kind::Account;
        s.account = src.required_string("fromAccount");
    } else {
        s.kind = SecretSource::Kind::Identity;
        AttrSet id = src.required_set("fromIdentity");
        s.directory = id.required_string("directory");
        auto service = id.optional_string("service");
        auto user = id.optional_string("user");
        if (service.has_value() == user.has_value())
            id.fail("", "give exactly one of service (a bind account) or user (a person)");
        s.entry = service ? *service : *user;
        s.entry_is_user = user.has_value();
        id.finish();
    }
    src.finish();
    return s;
}

Secret parse_secret(const std::string& name, AttrSet a, const std::string& base_dir) {
    Secret s;
    s.name = name;
    auto machine = a.optional_string("machine");
    auto machines = a.string_list("machines");
    if (machine.has_value() == !machines.empty())
        a.fail("", "give exactly one of machine (a name) or machines (a list of names)");
    s.machines = machine ? std::vector<std::string>{*machine} : machines;
    s.file = a.optional_string("name").value_or(name);
    s.owner = a.optional_string("owner").value_or("root");
    s.group = a.optional_string("group").value_or(s.owner == "root" ? "root" : s.owner);
    s.mode = parse_mode(a, "mode", 0400);
    s.allow_world_readable = a.optional_bool("allowWorldReadable").value_or(false);
    s.environment_variable = a.optional_string("environmentVariable");
    if (s.environment_variable) {
        static const std::regex var_re("^[A-Za-z_][A-Za-z0-9_]*$");
        if (!std::regex_match(*s.environment_variable, var_re))
            a.fail("environmentVariable", "expected a variable name such as LDAP_PASSWORD");
    }
    if (auto src = a.optional_set("source"))
        s.source = parse_source(*src, base_dir);
    a.finish();
    return s;
}

} // namespace

unsigned parse_mode(AttrSet& set, const std::string& attr, unsigned fallback) {
    const auto* v = set.get(attr);
    if (!v || v->is_null())
        return fallback;
    static const std::regex mode_re("^0?[0-7]{3}$");
    if (!v->is_string() || !std::regex_match(v->get<std::string>(), mode_re))
        set.fail(attr,
                 "expected an octal mode as a string, such as \"0400\", got " + describe_value(*v));
    return static_cast<unsigned>(std::stoul(v->get<std::string>(), nullptr, 8));
}

std::string SecretSource::describe() const {
    switch (kind) {
    case Kind::Generate:
        return fmt::format("generated ({} characters)", length);
    case Kind::File:
        return "file " + file;
    case Kind::Command:
        return "command " + shell_join(command);
    case Kind::Account:
        return "password of accounts." + account;
    case Kind::Identity:
        return fmt::format("password of identity.{}.{}.{}", directory,
                           entry_is_user ? "users" : "services", entry);
    }
    return "?";
}

std::map<std::string, Secret> parse_secrets(AttrSet& top, const nlohmann::json& evaluated,
                                            const std::string& base_dir) {
    std::map<std::string, Secret> out;
    auto secrets = top.optional_set("secrets");
    if (!secrets)
        return out;
    static const std::regex name_re("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    for (const auto& [name, value] : evaluated["secrets"].items()) {
        secrets->get(name);
        if (!std::regex_match(name, name_re))
            secrets->fail(name, "invalid secret name (letters, digits, '.', '_' and '-')");
        out.emplace(name, parse_secret(name, AttrSet(value, secrets->child_path(name)), base_dir));
    }
    return out;
}

nlohmann::json to_json(const Secret& s) {
    nlohmann::json j = {{"machines", s.machines},
                        {"name", s.file},
                        {"owner", s.owner},
                        {"group", s.group},
                        {"mode", fmt::format("{:04o}", s.mode)},
                        {"allowWorldReadable", s.allow_world_readable},
                        {"source", s.source.describe()}};
    j["environmentVariable"] =
        s.environment_variable ? nlohmann::json(*s.environment_variable) : nlohmann::json();
    return j;
}

} // namespace fedi::model
