#include "session/connector.hpp"

#include "statestore/backend.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace fedi::session {

namespace {

class SshConnector : public Connector {
  public:
    SshConnector(StateStore& state, ui::Events& events, ConnectOptions options)
        : state_(state), events_(events), options_(options) {}

    std::unique_ptr<host::Host> connect(const model::Machine& m) override {
        auto settings = host::settings_for(m, state::trusted_host_keys(state_.snapshot(), m.name));
        settings.accept_new_host_key = options_.accept_new_host_keys;
        settings.compress = options_.compress;
        if (options_.connect_timeout)
            settings.connect_timeout = *options_.connect_timeout;
        events_.detail(m.name,
                       fmt::format("connecting to {}@{}:{}", m.ssh.user, m.ssh.host, m.ssh.port));
        auto host = host::Host::connect(settings);
        if (auto key = host->newly_trusted_host_key())
            record_key(m.name, *key);
        return host;
    }

    std::unique_ptr<host::Host>
    connect_to_change(const model::Machine& m, const std::optional<std::string>& system) override {
        auto host = connect(m);
        auto me = statestore::this_process(options_.command_line, "machine " + m.name);
        host::TakeMachine take;
        take.holder = {me.host, me.user, me.pid, me.command, me.since, 0, ""};
        take.timeout = options_.lock_timeout;
        take.system = system;
        take.warn = [this, &m](const std::string& text) { events_.warn(m.name, text); };
        take.info = [this, &m](const std::string& text) { events_.info(m.name, text); };
        take.on_line = [this, &m](const std::string& line) {
            events_.info(m.name, "earlier activation | " + line);
        };
        events_.detail(m.name, "taking the machine's lock");
        host::take_machine(*host, take);
        return host;
    }

  private:
    void record_key(const std::string& machine, const std::string& key) {
        if (!state_.writable()) {
            events_.warn(machine, fmt::format("trusting new host key {} for this command only "
                                              "(the state is not written by it)",
                                              key));
            return;
        }
        events_.warn(machine, fmt::format("trusting new host key {} (recorded in state)", key));
        state_.change([&](state::State& s) {
            auto& keys = s.machines[machine].host_keys;
            if (std::find(keys.begin(), keys.end(), key) == keys.end())
                keys.push_back(key);
        });
    }

    StateStore& state_;
    ui::Events& events_;
    ConnectOptions options_;
};

} // namespace

std::unique_ptr<host::Host> Connector::connect_to_change(const model::Machine& m,
                                                         const std::optional<std::string>&) {
    return connect(m);
}

std::unique_ptr<Connector> ssh_connector(StateStore& state, ui::Events& events,
                                         ConnectOptions options) {
    return std::make_unique<SshConnector>(state, events, options);
}

} // namespace fedi::session
