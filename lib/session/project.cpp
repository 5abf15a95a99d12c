#include "session/project.hpp"

#include "nix/eval.hpp"
#include "provider/provider.hpp"
#include "session/state_store.hpp"
#include "state/state.hpp"
#include "statestore/age_codec.hpp"
#include "statestore/backend.hpp"

#include <cstdio>
#include <filesystem>
#include <fmt/format.h>

namespace fedi::session {

namespace {

// A provisioned machine's SSH target: its recorded outputs, except what the deployment
// sets itself.
void apply_outputs(model::Machine& m, const provider::Record& r) {
    const auto& o = r.outputs;
    if (!m.ssh_given.count("host"))
        m.ssh.host = o.host;
    if (!m.ssh_given.count("port"))
        m.ssh.port = o.port;
    if (!m.ssh_given.count("user"))
        m.ssh.user = o.user;
    if (!m.ssh_given.count("hostKey") && !o.host_keys.empty())
        m.ssh.host_key = o.host_keys.front();
    if (!m.ssh_given.count("identityFile") && o.identity_file)
        m.ssh.identity_file = o.identity_file;
}

} // namespace

// The command that loads a missing deployment file says so.
model::StateSettings project_state_settings(const ProjectOptions& opts) {
    if (opts.state_settings)
        return *opts.state_settings;
    namespace fs = std::filesystem;
    auto file = fs::absolute(opts.deployment_file).lexically_normal();
    std::error_code ec;
    if (!fs::exists(file, ec))
        return {};
    auto value = nix::evaluate_state_settings(file.string());
    if (value.is_null())
        return {};
    return model::parse_state_settings(value, "meta.state", file.parent_path().string());
}

namespace {

// `--state` wins over meta.state.url, which wins over .fedi/state.json.
std::string location_for(const ProjectOptions& opts, const model::StateSettings& settings) {
    auto given = opts.state_file ? opts.state_file : settings.url;
    if (given && statestore::is_remote_location(*given))
        return *given;
    // The real path: a state named through a symbolic link is the same state, one lock.
    return state::real_state_path(given ? *given : state::default_state_file(opts.deployment_file));
}

std::string local_dir_for(const ProjectOptions& opts, const std::string& location) {
    if (statestore::is_remote_location(location))
        return std::filesystem::path(state::default_state_file(opts.deployment_file))
            .parent_path()
            .string();
    return std::filesystem::path(location).parent_path().string();
}

// The codec meta.state asks for, for the state at `where`. A remote state holds every
// generated password and key secret where others can read it: plain text only on purpose.
std::unique_ptr<statestore::Codec> codec_for(const ProjectOptions& opts,
                                             const model::StateSettings& settings,
                                             const std::string& where, bool remote) {
    if (!settings.encrypted()) {
        if (remote && !settings.allow_plaintext)
            throw usage_error(fmt::format(
                "meta.state: the state {} is remote and would be kept in plain text, readable by "
                "whoever can read that database or bucket, with every generated password and "
                "S3 secret in it: give meta.state.encryption.recipients (age public keys, "
                "age1…), or set meta.state.allowPlaintext = true to keep it plain on purpose",
                where));
        return statestore::plain_codec();
    }
    statestore::AgeOptions age;
    age.recipients = settings.encryption.recipients;
    age.identities = statestore::age_identities_from_environment(settings.encryption.identity_file);
    age.on_notice = [warn = opts.on_warning](const std::string& message) {
        if (warn)
            warn(model::Warning{"meta.state", message});
        else
            fmt::print(stderr, "warning: meta.state: {}\n", message);
    };
    return statestore::age_codec(std::move(age));
}

} // namespace

std::unique_ptr<statestore::Codec> project_codec(const ProjectOptions& opts) {
    auto settings = project_state_settings(opts);
    auto location = location_for(opts, settings);
    return codec_for(opts, settings, location, statestore::is_remote_location(location));
}

std::unique_ptr<StateStore> open_project_state(const ProjectOptions& opts, StateMode mode,
                                               const std::string& command_line,
                                               const std::vector<std::string>& scopes) {
    auto settings = project_state_settings(opts);
    auto location = location_for(opts, settings);
    // Refused before anything reaches the backend.
    auto codec = codec_for(opts, settings, location, statestore::is_remote_location(location));
    statestore::BackendOptions backend_options;
    backend_options.command_line = command_line;
    auto backend = statestore::open_backend(location, backend_options);
    statestore::LockRequest lock;
    lock.command = command_line;
    lock.scopes = scopes;
    return open_state_store(std::move(backend), std::move(codec), mode, lock);
}

std::string resolve_state_location(const ProjectOptions& opts) {
    // With --state, meta.state.url does not matter: no need to evaluate it.
    return location_for(opts,
                        opts.state_file ? model::StateSettings{} : project_state_settings(opts));
}

std::string resolve_local_dir(const ProjectOptions& opts) {
    return local_dir_for(opts, resolve_state_location(opts));
}

Project load_project(const ProjectOptions& opts) {
    return load_project(opts, open_project_state(opts, StateMode::ReadOnly, "")->snapshot());
}

Project load_project(const ProjectOptions& opts, const state::State& st) {
    Project p;
    auto file = std::filesystem::absolute(opts.deployment_file).lexically_normal().string();
    // The deployment function sees what state records (addresses of provisioned machines).
    auto evaluated = nix::evaluate_deployment(file, provider::resources(st));
    p.deployment = model::parse_deployment(evaluated, file);
    p.state_location = location_for(opts, p.deployment.state);
    p.local_dir = local_dir_for(opts, p.state_location);
    for (const auto& [name, rec] : provider::records(st)) {
        auto it = p.deployment.machines.find(name);
        if (it != p.deployment.machines.end() && it->second.provision && rec.complete)
            apply_outputs(it->second, rec);
    }
    for (const auto& w : p.deployment.warnings) {
        if (opts.on_warning)
            opts.on_warning(w);
        else
            fmt::print(stderr, "warning: {}: {}\n", w.path, w.message);
    }
    return p;
}

} // namespace fedi::session
