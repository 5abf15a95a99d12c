#pragma once
// What every command shares while it runs: the project, its state store, where progress
// goes, how machines are connected, and how much runs at once. Phases and commands take
// a Session instead of reaching for files, sockets and globals; tests build one from a
// memory state, RecordingEvents and a fake Connector.
#include "session/connector.hpp"
#include "session/limits.hpp"
#include "session/project.hpp"
#include "session/state_store.hpp"
#include "ui/events.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fedi::session {

class Session {
  public:
    Session(Project project, std::unique_ptr<StateStore> state, ui::Events& events,
            std::unique_ptr<Connector> connector, Limits limits);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    const Project& project() const { return project_; }
    const model::Deployment& deployment() const { return project_.deployment; }
    // After provisioning, the deployment is evaluated again with the machines' addresses.
    void set_project(Project project) { project_ = std::move(project); }
    StateStore& state() { return *state_; }
    ui::Events& events() { return events_; }
    Connector& connector() { return *connector_; }
    const Limits& limits() const { return limits_; }
    // Closures streamed at once, shared by every machine of the command.
    Slots& push_slots() { return push_slots_; }

  private:
    Project project_;
    std::unique_ptr<StateStore> state_;
    ui::Events& events_;
    std::unique_ptr<Connector> connector_;
    Limits limits_;
    Slots push_slots_;
};

struct SessionOptions {
    ProjectOptions project;
    StateMode state_mode = StateMode::ReadOnly;
    std::string command_line; // recorded in the lock
    ConnectOptions connect;
    Limits limits;
    // What a Locked command changes, as lock scopes (deploy::lock_scopes). Against a
    // remote state only these are locked, so runs on other machines go on; unset, every
    // scope of the deployment is (every_lock_scope). A local file has one lock.
    std::function<std::vector<std::string>(const Project&)> lock_scopes;
};

// Every lock scope of a deployment: "machine NAME", "provider NAME", "storage NAME",
// "directory NAME". Sorted.
std::vector<std::string> every_lock_scope(const model::Deployment& d);

// Opens the state (its lock first when Locked, so a second command stops before any
// work), then evaluates the deployment with it. With lock_scopes and a remote state, the
// deployment is evaluated first to know the scopes, then the state is locked and read
// again (and the deployment evaluated again when it changed meanwhile). Connections are
// made only when asked.
std::unique_ptr<Session> open_session(const SessionOptions& options, ui::Events& events);

} // namespace fedi::session
