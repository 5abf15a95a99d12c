#include "session/session.hpp"

#include "state/state.hpp"
#include "statestore/backend.hpp"

#include <set>

namespace fedi::session {

Session::Session(Project project, std::unique_ptr<StateStore> state, ui::Events& events,
                 std::unique_ptr<Connector> connector, Limits limits)
    : project_(std::move(project)), state_(std::move(state)), events_(events),
      connector_(std::move(connector)), limits_(limits), push_slots_(limits.pushes) {}

namespace {

struct OpenedState {
    std::unique_ptr<StateStore> store;
    Project project;
};

// Locks by scope (a remote state): read without a lock, evaluate, lock the scopes, read
// again.
OpenedState open_narrowly(const SessionOptions& options) {
    auto unlocked = open_project_state(options.project, StateMode::ReadOnly, options.command_line);
    auto first = unlocked->snapshot();
    auto project = load_project(options.project, first);
    auto scopes =
        options.lock_scopes ? options.lock_scopes(project) : every_lock_scope(project.deployment);
    auto store =
        open_project_state(options.project, StateMode::Locked, options.command_line, scopes);
    if (state::to_text(store->snapshot()) != state::to_text(first)) {
        auto quiet = options.project;
        quiet.on_warning = [](const model::Warning&) {}; // reported by the first load
        project = load_project(quiet, store->snapshot());
    }
    return {std::move(store), std::move(project)};
}

OpenedState open_state(const SessionOptions& options) {
    bool narrow = options.state_mode == StateMode::Locked &&
                  statestore::is_remote_location(resolve_state_location(options.project));
    if (narrow)
        return open_narrowly(options);
    auto store = open_project_state(options.project, options.state_mode, options.command_line);
    auto project = load_project(options.project, store->snapshot());
    return {std::move(store), std::move(project)};
}

} // namespace

std::vector<std::string> every_lock_scope(const model::Deployment& d) {
    std::set<std::string> scopes;
    for (const auto& [name, m] : d.machines) {
        scopes.insert("machine " + name);
        if (m.provision)
            scopes.insert("provider " + m.provision->provider);
    }
    for (const auto& [name, storage] : d.storage)
        scopes.insert("storage " + name);
    for (const auto& [name, directory] : d.identity)
        scopes.insert("directory " + name);
    return {scopes.begin(), scopes.end()};
}

std::unique_ptr<Session> open_session(const SessionOptions& options, ui::Events& events) {
    // meta.state evaluated once for the location, the codec and both reads of a remote state.
    auto once = options;
    once.project.state_settings = project_state_settings(options.project);
    auto [store, project] = open_state(once);
    auto connect = options.connect;
    connect.command_line = options.command_line; // recorded in the machines' locks
    auto connector = ssh_connector(*store, events, connect);
    return std::make_unique<Session>(std::move(project), std::move(store), events,
                                     std::move(connector), options.limits);
}

} // namespace fedi::session
