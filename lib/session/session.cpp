#include "session/session.hpp"

namespace fedi::session {

Session::Session(Project project, std::unique_ptr<StateStore> state, ui::Events& events,
                 std::unique_ptr<Connector> connector, Limits limits)
    : project_(std::move(project)), state_(std::move(state)), events_(events),
      connector_(std::move(connector)), limits_(limits), push_slots_(limits.pushes) {}

std::unique_ptr<Session> open_session(const SessionOptions& options, ui::Events& events) {
    auto store = open_project_state(options.project, options.state_mode, options.command_line);
    auto project = load_project(options.project, store->snapshot());
    auto connect = options.connect;
    connect.command_line = options.command_line; // recorded in the machines' locks
    auto connector = ssh_connector(*store, events, connect);
    return std::make_unique<Session>(std::move(project), std::move(store), events,
                                     std::move(connector), options.limits);
}

} // namespace fedi::session
