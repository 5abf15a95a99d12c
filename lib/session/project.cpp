#include "session/project.hpp"

#include "nix/eval.hpp"
#include "provider/provider.hpp"
#include "session/state_store.hpp"
#include "state/state.hpp"
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

std::unique_ptr<statestore::Codec> project_codec(const ProjectOptions& opts) {
    (void)opts;
    return statestore::plain_codec();
}

std::unique_ptr<StateStore> open_project_state(const ProjectOptions& opts, StateMode mode,
                                               const std::string& command_line,
                                               const std::vector<std::string>& scopes) {
    statestore::BackendOptions backend_options;
    backend_options.command_line = command_line;
    statestore::LockRequest lock;
    lock.command = command_line;
    lock.scopes = scopes;
    return open_state_store(statestore::open_backend(resolve_state_location(opts), backend_options),
                            project_codec(opts), mode, lock);
}

std::string resolve_state_location(const ProjectOptions& opts) {
    if (opts.state_file && statestore::is_remote_location(*opts.state_file))
        return *opts.state_file;
    // The real path: a state named through a symbolic link is the same state, one lock.
    return state::real_state_path(
        opts.state_file ? *opts.state_file : state::default_state_file(opts.deployment_file));
}

std::string resolve_local_dir(const ProjectOptions& opts) {
    auto location = resolve_state_location(opts);
    if (statestore::is_remote_location(location))
        return std::filesystem::path(state::default_state_file(opts.deployment_file))
            .parent_path()
            .string();
    return std::filesystem::path(location).parent_path().string();
}

Project load_project(const ProjectOptions& opts) {
    return load_project(opts, open_project_state(opts, StateMode::ReadOnly, "")->snapshot());
}

Project load_project(const ProjectOptions& opts, const state::State& st) {
    Project p;
    p.state_location = resolve_state_location(opts);
    p.local_dir = resolve_local_dir(opts);
    auto file = std::filesystem::absolute(opts.deployment_file).lexically_normal().string();
    // The deployment function sees what state records (addresses of provisioned machines).
    auto evaluated = nix::evaluate_deployment(file, provider::resources(st));
    p.deployment = model::parse_deployment(evaluated, file);
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
