#include "host/remote_commands.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "host/paths.hpp"
#include "host/remote_scripts.hpp"

#include <fmt/format.h>
#include <functional>

namespace fedi::host {

std::string installed_script_path(std::string_view file, const std::string& content) {
    std::string_view name = file.substr(0, file.rfind(".sh"));
    return fmt::format("{}/{}-{:016x}.sh", kScriptDir, name, std::hash<std::string>{}(content));
}

std::string install_script_command(const std::string& path) {
    // A temporary name of its own ($$): two fedis may install the same script at once.
    return fmt::format("test -e {0} || {{ umask 077; mkdir -p {1} {2} && "
                       "cat > {0}.tmp.$$ && mv -f {0}.tmp.$$ {0}; }}",
                       path, kScriptDir, kActivationDir);
}

std::string start_activation_command(const ActivationCommand& a) {
    std::string args = shell_join({a.script, a.id, a.system, a.goal, a.rollback ? "1" : "0",
                                   std::to_string(a.confirm_seconds)});
    return fmt::format("if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then "
                       "systemd-run --quiet --collect --unit=fedi-activate-{} sh {}; "
                       "else setsid -f sh {} </dev/null >/dev/null 2>&1; fi",
                       a.id, args, args);
}

std::string follow_command(const std::string& script, const std::string& id, std::size_t lines) {
    return shell_join({"sh", script, id, std::to_string(lines)});
}

std::string confirm_command(const std::string& id) {
    return fmt::format("touch {}/{}.confirm", kRuntimeActivationDir, id);
}

std::string abort_command(const std::string& id) {
    return fmt::format("cat > {}/{}.abort", kRuntimeActivationDir, id);
}

std::string system_status_command() {
    return fmt::format("echo \"profile=$(readlink -f {0} 2>/dev/null)\"; "
                       "echo \"link=$(readlink {0} 2>/dev/null)\"; "
                       "echo \"current=$(readlink -f {1} 2>/dev/null)\"",
                       kSystemProfile, kCurrentSystem);
}

namespace {
constexpr std::string_view kPendingMarker = "--- activations waiting for confirmation";
} // namespace

std::string machine_status_command(const std::string& pending_script) {
    // A subshell, so that the script's own `exit` ends only its part.
    return fmt::format("{}; echo '{}'; (\n{}\n)", system_status_command(), kPendingMarker,
                       pending_script);
}

MachineStatusOutput split_machine_status(const std::string& out) {
    std::string marker = fmt::format("{}\n", kPendingMarker);
    auto at = out.find("\n" + marker);
    if (at == std::string::npos)
        throw Error(fmt::format("the machine's status lacks the line \"{}\"; it printed: {}",
                                kPendingMarker, out.substr(0, 500)));
    return {out.substr(0, at + 1), out.substr(at + 1 + marker.size())};
}

std::string disk_usage_command() {
    return "df -P /var/lib /run 2>/dev/null | awk 'NR > 1 "
           "{ printf \"%s%s %s in use\", sep, $6, $5; sep = \", \" }'";
}

std::string secret_sync_command(bool any_files) {
    std::string script = remote_script(RemoteScript::SecretsSync);
    if (any_files)
        return script;
    return fmt::format("[ -d {} ] || exit 0\n", kSecretsDir) + script;
}

} // namespace fedi::host
