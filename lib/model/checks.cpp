#include "model/checks.hpp"

#include "core/error.hpp"
#include "model/deployment.hpp"
#include "model/provider_settings.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <fmt/format.h>
#include <map>
#include <regex>
#include <sys/stat.h>
#include <unistd.h>

namespace fedi::model {

namespace {

bool matches(std::string_view text, const std::regex& re) {
    return std::regex_match(text.begin(), text.end(), re);
}

bool dns_name(std::string_view host) {
    if (host.empty() || host.size() > 253)
        return false;
    if (host.back() == '.') // fully qualified
        host.remove_suffix(1);
    static const std::regex label("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$");
    std::size_t start = 0;
    while (true) {
        auto dot = host.find('.', start);
        auto part = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (!matches(part, label))
            return false;
        if (dot == std::string_view::npos)
            return true;
        start = dot + 1;
    }
}

[[noreturn]] void refuse(const std::string& path, const std::string& message) {
    throw usage_error(path + ": " + message);
}

void check_owner(const std::string& path, const std::string& owner, const std::string& group) {
    if (!posix_account_name(owner))
        refuse(path + ".owner", fmt::format("invalid user name \"{}\" (a name such as "
                                            "\"mastodon\": lower-case letters, digits, '_' and "
                                            "'-', starting with a letter or '_'; or a numeric id)",
                                            owner));
    if (!posix_account_name(group))
        refuse(path + ".group", fmt::format("invalid group name \"{}\" (a name such as "
                                            "\"mastodon\": lower-case letters, digits, '_' and "
                                            "'-', starting with a letter or '_'; or a numeric id)",
                                            group));
}

void check_mode(const std::string& path, unsigned mode, bool allow_world_readable) {
    if (auto why = mode_problem(mode, allow_world_readable))
        refuse(path + ".mode", *why);
}

void check_ssh(const std::string& machine, const SshTarget& ssh) {
    std::string path = "machines." + machine + ".ssh";
    // A provisioned machine without a host of its own gets its address from its outputs.
    if (!ssh.host.empty() && !valid_ssh_host(ssh.host))
        refuse(path + ".host", fmt::format("invalid host \"{}\" (a DNS name, an IPv4 address or "
                                           "an IPv6 address without brackets; the port goes in "
                                           "`port`, the user in `user`)",
                                           ssh.host));
    if (!valid_ssh_user(ssh.user))
        refuse(path + ".user", fmt::format("invalid user name \"{}\"", ssh.user));
    if (ssh.identity_file) {
        const auto& f = *ssh.identity_file;
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0)
            refuse(path + ".identityFile", fmt::format("{} does not exist on the deployer", f));
        if (!S_ISREG(st.st_mode))
            refuse(path + ".identityFile", fmt::format("{} is not a file", f));
        if (::access(f.c_str(), R_OK) != 0)
            refuse(path + ".identityFile",
                   fmt::format("{} cannot be read by this user (uid {})", f, ::getuid()));
    }
}

// Machine names that become the same container id ("S3_1" and "s3-1"), and two
// machines that would be one Proxmox VM name (fedi finds its VMs by name; DNS names
// compare without case).
void check_label_collisions(const Deployment& d) {
    std::map<std::string, std::string> vm_names; // provider/name -> machine
    for (const auto& [name, m] : d.machines) {
        if (!m.provision || m.provision->type != "proxmox")
            continue;
        auto vm = m.provision->settings->to_json().value("name", "");
        std::string key = m.provision->provider + "/";
        for (char c : vm)
            key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto [it, fresh] = vm_names.emplace(key, name);
        if (!fresh)
            refuse("machines." + name + ".provision.name",
                   fmt::format("machines {} and {} would both be the VM \"{}\" of providers.{}; "
                               "set provision.name on one",
                               it->second, name, vm, m.provision->provider));
    }
    std::map<std::string, std::string> seen; // label -> machine
    for (const auto& [name, m] : d.machines) {
        if (!m.provision || m.provision->type != "container")
            continue;
        auto [it, fresh] = seen.emplace(host_label(name), name);
        if (!fresh)
            refuse("machines." + name,
                   fmt::format("machines {} and {} would both be the container \"{}\" (names "
                               "are lower-cased and '_' and '.' become '-'); rename one",
                               it->second, name, it->first));
    }
}

void check_secret_files(const Deployment& d) {
    std::map<std::pair<std::string, std::string>, std::string> files; // (machine, file) -> path
    for (const auto& [name, s] : d.secrets) {
        std::string path = "secrets." + name;
        if (!safe_file_name(s.file))
            refuse(path + ".name",
                   fmt::format("invalid file name \"{}\" (letters, digits, '.', '_' and '-', "
                               "starting with a letter or digit: it names a file in the "
                               "machine's secrets directory)",
                               s.file));
        check_owner(path, s.owner, s.group);
        check_mode(path, s.mode, s.allow_world_readable);
        for (const auto& m : s.machines)
            files.emplace(std::pair(m, s.file), path + ".name");
    }
    for (const auto& [bucket, b] : d.buckets)
        for (const auto& [key, k] : b.keys)
            for (std::size_t i = 0; i < k.deliver_to.size(); ++i) {
                const auto& del = k.deliver_to[i];
                std::string path = fmt::format("buckets.{}.keys.{}.deliverTo", bucket, key);
                if (k.deliver_to.size() > 1)
                    path += fmt::format(".{}", i);
                check_owner(path, del.owner, del.group);
                check_mode(path, del.mode, del.allow_world_readable);
                auto file = key_file_name(bucket, key);
                auto it = files.find(std::pair(del.machine, file));
                if (it != files.end())
                    refuse(path, fmt::format("{} would receive {} twice (also from {})",
                                             del.machine, file, it->second));
            }
}

void check_accounts(const Deployment& d) {
    for (const auto& [name, a] : d.accounts) {
        std::string path = "accounts." + name;
        if (!a.email.empty() && !valid_email(a.email))
            refuse(path + ".email", fmt::format("\"{}\" is not an e-mail address", a.email));
        if (auto why = reserved_username(a.service, a.username))
            refuse(path + ".username", *why);
    }
    for (const auto& [dir, id] : d.identity)
        for (const auto& [uid, u] : id.users)
            if (!valid_email(u.email))
                refuse(fmt::format("identity.{}.users.{}.email", dir, uid),
                       fmt::format("\"{}\" is not an e-mail address", u.email));
}

} // namespace

bool safe_file_name(std::string_view name) {
    static const std::regex re("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    return matches(name, re);
}

bool posix_account_name(std::string_view name) {
    // The rule the machine applies when it writes the file (host/secrets.cpp): useradd's
    // default NAME_REGEX with the trailing '$' of machine accounts, or a numeric id.
    static const std::regex re("^([a-z_][a-z0-9_-]{0,31}\\$?|[0-9]+)$");
    return matches(name, re);
}

bool valid_ssh_user(std::string_view user) {
    // What systemd accepts as a user name (a superset of useradd's default), without the
    // characters an ssh user@host or a shell would read differently.
    static const std::regex re("^[A-Za-z_][A-Za-z0-9._-]{0,31}$");
    return matches(user, re);
}

bool valid_ssh_host(std::string_view host) {
    std::string text(host);
    unsigned char buf[sizeof(struct in6_addr)];
    if (text.find(':') != std::string::npos) {
        // A link-local address may name its interface: fe80::1%eth0.
        static const std::regex zone("%[A-Za-z0-9_.-]{1,15}$");
        if (auto pct = text.find('%'); pct != std::string::npos) {
            if (!std::regex_search(text, zone))
                return false;
            text.erase(pct);
        }
        return ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
    }
    static const std::regex dotted_digits("^[0-9.]+$");
    if (matches(host, dotted_digits)) // 999.1.1.1 is no address and no host name either
        return ::inet_pton(AF_INET, text.c_str(), buf) == 1;
    return dns_name(host);
}

bool valid_email(std::string_view address) {
    auto at = address.rfind('@');
    if (at == std::string_view::npos || at == 0 || at > 64)
        return false;
    auto local = address.substr(0, at);
    auto domain = address.substr(at + 1);
    // dot-atom-text (RFC 5322 3.2.3): atoms of atext joined by single dots.
    static const std::regex dot_atom("^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
                                     "(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$");
    return matches(local, dot_atom) && domain.find('.') != std::string_view::npos &&
           domain.back() != '.' && dns_name(domain);
}

std::optional<std::string> mode_problem(unsigned mode, bool allow_world_readable) {
    if (mode > 0777)
        return fmt::format("mode {:04o} is not a file permission (at most 0777)", mode);
    if (mode & 0002)
        return fmt::format("mode {:04o} lets every user of the machine replace the secret; "
                           "give the owner or group write access instead",
                           mode);
    if ((mode & 0004) && !allow_world_readable)
        return fmt::format("mode {:04o} lets every user of the machine read the secret; use "
                           "owner/group with a mode such as \"0440\", or set "
                           "`allowWorldReadable = true` if it is meant to be public",
                           mode);
    return std::nullopt;
}

std::optional<std::string> reserved_username(const std::string& service,
                                             const std::string& username) {
    if (service != "mastodon")
        return std::nullopt;
    // Mastodon refuses these for local accounts (compared lower-cased): the default
    // `reserved_usernames` in config/settings.yml, enforced by
    // app/validators/unreserved_username_validator.rb (Mastodon v4.x; read at commit
    // 01d6f7529fae).
    static const char* const reserved[] = {"admin",     "support",       "help", "root",
                                           "webmaster", "administrator", "mod",  "moderator"};
    std::string lower;
    for (char c : username)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* r : reserved)
        if (lower == r)
            return fmt::format("Mastodon reserves the username \"{}\" (reserved: admin, "
                               "support, help, root, webmaster, administrator, mod, "
                               "moderator); choose another",
                               username);
    return std::nullopt;
}

std::string host_label(std::string_view machine) {
    std::string out;
    for (char c : machine) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '-';
    }
    if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0])))
        out = "m-" + out;
    return out;
}

void check_deployment(const Deployment& d) {
    for (const auto& [name, m] : d.machines)
        check_ssh(name, m.ssh);
    check_label_collisions(d);
    check_secret_files(d);
    check_accounts(d);
}

} // namespace fedi::model
