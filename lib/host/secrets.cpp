#include "host/secrets.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "host/remote_scripts.hpp"

#include <charconv>
#include <fmt/format.h>
#include <regex>
#include <set>
#include <sstream>

namespace fedi::host {

void validate_secret(const SecretFile& f) {
    static const std::regex name_re("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    static const std::regex account_re("^([a-z_][a-z0-9_-]{0,31}\\$?|[0-9]+)$");
    std::string where = f.origin.empty() ? "secret " + f.name : f.origin;
    if (!std::regex_match(f.name, name_re))
        throw usage_error(fmt::format("{}: invalid secret file name \"{}\" (letters, digits, '.', "
                                      "'_' and '-', starting with a letter or digit)",
                                      where, f.name));
    if (!std::regex_match(f.owner, account_re))
        throw usage_error(fmt::format("{}: invalid owner \"{}\"", where, f.owner));
    if (!std::regex_match(f.group, account_re))
        throw usage_error(fmt::format("{}: invalid group \"{}\"", where, f.group));
    if (f.mode > 0777)
        throw usage_error(fmt::format("{}: invalid mode {:o}", where, f.mode));
}

// resources/host/secrets-sync.sh, on `dir`.
std::string secret_sync_script(const std::string& dir) {
    ScriptPaths paths;
    paths.secrets_dir = dir;
    return remote_script(RemoteScript::SecretsSync, paths);
}

std::string secret_sync_stream(const std::vector<SecretFile>& files) {
    std::set<std::string> names;
    std::string stream;
    for (const auto& f : files) {
        validate_secret(f);
        if (!names.insert(f.name).second)
            throw usage_error(fmt::format("{}: two secrets would be written to the same file "
                                          "{}/{} on the machine",
                                          f.origin, kSecretsDir, f.name));
        stream += fmt::format("{} {} {} {:04o} {}\n", f.name, f.owner, f.group, f.mode,
                              f.content.empty() ? std::string("-") : base64_encode(f.content));
    }
    return stream + ".\n";
}

std::string secret_list_command(const std::string& dir) {
    return fmt::format("[ -d {0} ] || exit 0; for f in {0}/*; do [ -f \"$f\" ] && "
                       "stat -c '%U %G %a %n' -- \"$f\"; done; exit 0",
                       shell_quote(dir));
}

std::vector<SecretInfo> parse_secret_list(const std::string& out) {
    std::vector<SecretInfo> list;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        SecretInfo info;
        std::string mode, path;
        if (!(words >> info.owner >> info.group >> mode >> path))
            continue;
        auto [end, ec] = std::from_chars(mode.data(), mode.data() + mode.size(), info.mode, 8);
        if (ec != std::errc() || end != mode.data() + mode.size())
            throw Error(fmt::format("cannot read the listing of {}: \"{}\" is not a file mode "
                                    "(line \"{}\")",
                                    kSecretsDir, mode, line));
        info.name = path.substr(path.rfind('/') + 1);
        list.push_back(info);
    }
    return list;
}

SecretSyncResult parse_secret_sync_output(const std::string& out) {
    SecretSyncResult r;
    std::istringstream in(out);
    std::string word, name;
    while (in >> word >> name) {
        if (word == "written")
            r.written.push_back(name);
        else if (word == "unchanged")
            r.unchanged.push_back(name);
        else if (word == "removed")
            r.removed.push_back(name);
        else if (word == "pending")
            r.pending_owner.push_back(name);
    }
    return r;
}

} // namespace fedi::host
