#include "host/remote_scripts.hpp"

#include "core/enum_names.hpp"
#include "core/error.hpp"
#include "core/process.hpp"

#include <fmt/format.h>
#include <optional>
#include <regex>

namespace fedi::host {

// Generated from resources/host/*.sh at build time (lib/CMakeLists.txt).
std::optional<std::string_view> embedded_host_resource(std::string_view name);

const std::vector<RemoteScript>& all_remote_scripts() {
    static const std::vector<RemoteScript> all = {
        RemoteScript::Activate,    RemoteScript::Follow,
        RemoteScript::SecretsSync, RemoteScript::PendingConfirmations,
        RemoteScript::PruneList,   RemoteScript::Lock,
        RemoteScript::PlanProbe};
    return all;
}

std::string_view file_name(RemoteScript script) {
    static constexpr EnumName<RemoteScript> names[] = {
        {RemoteScript::Activate, "activate.sh"},
        {RemoteScript::Follow, "follow.sh"},
        {RemoteScript::SecretsSync, "secrets-sync.sh"},
        {RemoteScript::PendingConfirmations, "pending-confirmations.sh"},
        {RemoteScript::PruneList, "prune-list.sh"},
        {RemoteScript::Lock, "lock.sh"},
        {RemoteScript::PlanProbe, "plan-probe.sh"}};
    for (const auto& n : names)
        if (n.value == script)
            return n.name;
    throw Error("unknown remote script");
}

std::string_view embedded_script_text(RemoteScript script) {
    auto text = embedded_host_resource(file_name(script));
    if (!text)
        throw Error(fmt::format("resources/host/{} was not embedded into this build of fedi",
                                file_name(script)));
    return *text;
}

std::string remote_script(RemoteScript script, const ScriptPaths& paths) {
    const std::pair<const char*, const std::string*> values[] = {
        {"ACTIVATION_DIR", &paths.activation_dir}, {"RUNTIME_DIR", &paths.runtime_dir},
        {"LOCK_FILE", &paths.lock_file},           {"SECRETS_DIR", &paths.secrets_dir},
        {"PROFILES_DIR", &paths.profiles_dir},     {"SYSTEM_PROFILE", &paths.system_profile},
        {"CURRENT_SYSTEM", &paths.current_system}, {"BOOTED_SYSTEM", &paths.booted_system}};
    static const std::regex placeholder("@([A-Z_]+)@");
    std::string text(embedded_script_text(script));
    std::string out;
    auto last = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), placeholder), end; it != end; ++it) {
        const std::string name = (*it)[1];
        const std::string* value = nullptr;
        for (const auto& [known, v] : values)
            if (name == known)
                value = v;
        if (!value)
            throw Error(fmt::format("resources/host/{} uses the placeholder @{}@, which fedi "
                                    "does not fill in",
                                    file_name(script), name));
        out.append(last, (*it)[0].first);
        out += shell_quote(*value);
        last = (*it)[0].second;
    }
    out.append(last, text.cend());
    return out;
}

} // namespace fedi::host
