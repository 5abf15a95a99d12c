#include "host/substitute.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/secret_memory.hpp"

#include <fmt/format.h>
#include <regex>
#include <sstream>

namespace fedi::host {

namespace {

std::string path_lines(const std::vector<std::string>& paths) {
    std::string text;
    for (const auto& p : paths)
        text += p + "\n";
    return text;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            lines.push_back(line);
    return lines;
}

bool starts_with(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

std::string credentials_path() {
    return fmt::format("{}/{}", kCacheCredentialsDir, kCacheCredentialsFile);
}

// The credentials file, on stdin: the directory then holds exactly it (secrets-sync.sh).
void write_credentials(Host& host, const SecretFile& file) {
    std::string stream = secret_sync_stream({file});
    WipeOnExit wipe_stream(stream);
    auto r = host.run_with_input(secret_sync_script(kCacheCredentialsDir), stream);
    if (r.exit_status != 0)
        throw Error(fmt::format("cannot write the binary cache's credentials file {} on the "
                                "machine (exit status {}): {}",
                                credentials_path(), r.exit_status, r.err));
}

} // namespace

SecretFile cache_credentials_file(const std::string& profile, const std::string& key_id,
                                  const std::string& secret) {
    SecretFile f;
    f.name = kCacheCredentialsFile;
    f.mode = 0600;
    f.origin = "the binary cache's read key";
    f.content = fmt::format("[{}]\naws_access_key_id = {}\naws_secret_access_key = {}\n", profile,
                            key_id, secret);
    return f;
}

std::string missing_paths_command() {
    return "xargs -r nix-store --check-validity --print-invalid";
}

std::string stage_list_command() {
    return "umask 077 && f=$(mktemp \"${TMPDIR:-/tmp}/fedi-paths.XXXXXX\") && cat > \"$f\" && "
           "echo \"$f\"";
}

std::string realise_command(const std::string& list_file, const std::optional<Substituter>& from) {
    std::vector<std::string> argv = {"xargs", "-r", "nix-store", "--realise", "--keep-going"};
    if (from) {
        // Only this cache, and only what its key signed; narinfo answers of an earlier
        // run (a path it lacked then) are not reused; an unreachable cache is given up
        // on in seconds, so the push takes over.
        for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
                 {"substituters", from->url},
                 {"trusted-public-keys", from->public_key},
                 {"require-sigs", "true"},
                 {"narinfo-cache-negative-ttl", "0"},
                 {"narinfo-cache-positive-ttl", "0"},
                 {"connect-timeout", "15"},
                 {"download-attempts", "2"}}) {
            argv.insert(argv.end(), {"--option", name, value});
        }
    }
    if (from && from->credentials)
        argv.insert(argv.begin(), {"env", "AWS_SHARED_CREDENTIALS_FILE=" + credentials_path()});
    auto file = shell_quote(list_file);
    return fmt::format("{} < {} > /dev/null; s=$?; rm -f {}; exit $s", shell_join(argv), file,
                       file);
}

std::optional<std::string> RealiseLog::read(const std::string& line) {
    static const std::regex copying_re("copying path '(/[^']+)' from '[^']*'.*"),
        unsigned_re(".*substitute for '(/[^']+)' from '[^']*'.*not signed by any of the keys.*"),
        unreachable_re(".*unable to download '[^']*'.*"),
        unsupported_re(".*(don't know how to open Nix store.*)");
    std::smatch m;
    if (std::regex_match(line, m, copying_re)) {
        copying.insert(m[1]);
        return m[1].str();
    }
    if (std::regex_match(line, m, unsigned_re))
        unsigned_paths.insert(m[1]);
    else if (line.find("hash mismatch") != std::string::npos ||
             line.find("bad archive") != std::string::npos)
        corrupt.push_back(line);
    else if (std::regex_match(line, m, unsupported_re))
        unsupported = m[1];
    else if (std::regex_match(line, unreachable_re))
        unreachable = line.substr(line.find("unable to download"));
    else if (starts_with(line, "error: ") && line.find("build of '") == std::string::npos)
        errors.push_back(line.substr(7));
    return std::nullopt;
}

std::vector<std::string> missing_paths(Host& host, const std::vector<std::string>& paths) {
    if (paths.empty())
        return {};
    auto r = host.run_with_input(missing_paths_command(), path_lines(paths));
    if (r.exit_status != 0)
        throw Error(fmt::format("cannot ask the machine's Nix which store paths it lacks (exit "
                                "status {}): {}",
                                r.exit_status, r.err));
    return lines_of(r.out);
}

RealiseLog realise_paths(Host& host, const std::vector<std::string>& paths,
                         const std::optional<Substituter>& from,
                         const std::function<void(const std::string& path)>& on_copy) {
    RealiseLog log;
    if (paths.empty())
        return log;
    if (from && from->credentials)
        write_credentials(host, *from->credentials);
    auto staged = host.run_with_input(stage_list_command(), path_lines(paths));
    auto file = lines_of(staged.out);
    if (staged.exit_status != 0 || file.size() != 1)
        throw Error(fmt::format("cannot write the list of paths to fetch on the machine (exit "
                                "status {}): {}",
                                staged.exit_status, staged.err));
    auto on_line = [&](const std::string& line) {
        auto started = log.read(line);
        if (started && on_copy)
            on_copy(*started);
    };
    // Its exit status says only that something was not realised: what is still missing
    // is asked afterwards, and the log says why.
    host.run_streaming(realise_command(file.front(), from), on_line, on_line);
    return log;
}

} // namespace fedi::host
