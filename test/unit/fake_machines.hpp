#pragma once
// Machines without machines: a FakeHost that behaves like a NixOS machine as far as
// fedi's orchestration goes (profile, running system, secrets, activation results), and a
// FakeConnector that hands them out by name. Orchestration tests (deploy, rollback,
// status, exec, accounts) run with these as an unprivileged user in seconds; the real
// SSH host is covered by the integration suite.
#include "core/error.hpp"
#include "host/activation_protocol.hpp"
#include "host/host.hpp"
#include "session/connector.hpp"
#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fedi::test {

// What one fake machine is and does; shared by every connection to it.
struct FakeMachine {
    std::mutex mutex;
    std::string profile;               // what the system profile points at
    int generation = 0;                // its number
    std::string current;               // the running system
    std::vector<std::string> received; // systems pushed to it, in order
    std::vector<std::string> commands; // commands run on it, in order
    std::vector<host::SecretFile> secrets;
    int connections = 0;
    // Behaviours a test sets: a throwing connect, a failing activation ("failed 1, rolled
    // back"), a slow push, a command's answer.
    std::function<void()> on_connect;
    std::function<void(const std::string& system)> on_push;
    std::function<std::string(const std::string& system)> activation_result; // default "ok"
    std::vector<std::string> activation_lines; // what the activation prints, before its result
    std::function<host::CommandResult(const std::string& command)> on_command;
};

class FakeHost : public host::Host {
  public:
    explicit FakeHost(std::shared_ptr<FakeMachine> m) : m_(std::move(m)) {}

    std::optional<std::string> newly_trusted_host_key() const override { return std::nullopt; }

    host::PushProgress
    push_closure(nix::LocalClosure&,
                 const std::function<void(const host::PushProgress&)>&) override {
        throw Error("FakeHost: push a list of roots (push_roots), not a LocalClosure");
    }

    // What a push of `system` does to the fake machine.
    host::PushProgress push_system(const std::string& system) {
        if (m_->on_push)
            m_->on_push(system);
        std::lock_guard<std::mutex> lock(m_->mutex);
        m_->received.push_back(system);
        host::PushProgress p;
        p.paths_total = 1;
        p.paths_sent = 1;
        p.bytes_sent = 1000;
        p.nar_bytes = 900;
        return p;
    }

    host::SystemStatus system_status() override {
        std::lock_guard<std::mutex> lock(m_->mutex);
        host::SystemStatus s;
        s.profile = m_->profile;
        s.current = m_->current;
        if (!m_->profile.empty())
            s.generation = m_->generation;
        return s;
    }

    host::SecretSyncResult sync_secrets(const std::vector<host::SecretFile>& files) override {
        std::lock_guard<std::mutex> lock(m_->mutex);
        host::SecretSyncResult r;
        for (const auto& f : files)
            r.written.push_back(f.name);
        m_->secrets = files;
        return r;
    }

    host::CommandResult run(const std::string& command) override {
        {
            std::lock_guard<std::mutex> lock(m_->mutex);
            m_->commands.push_back(command);
        }
        if (m_->on_command)
            return m_->on_command(command);
        return {0, "", ""};
    }
    host::CommandResult run_streaming(const std::string& command, const host::LineHandler& on_out,
                                      const host::LineHandler&) override {
        auto r = run(command);
        if (on_out && !r.out.empty())
            on_out(r.out);
        return r;
    }
    host::CommandResult run_with_input(const std::string& command, const std::string&) override {
        return run(command);
    }
    std::vector<host::SecretInfo> list_secrets() override {
        std::lock_guard<std::mutex> lock(m_->mutex);
        std::vector<host::SecretInfo> out;
        for (const auto& f : m_->secrets)
            out.push_back({f.name, f.owner, f.group, f.mode});
        return out;
    }

    host::ActivationOutcome activate(const host::ActivationRequest& request) override {
        host::ActivationOutcome o;
        if (request.on_line)
            for (const auto& l : m_->activation_lines)
                request.on_line(l);
        o.result = result(m_->activation_result ? m_->activation_result(request.system) : "ok");
        if (o.result.ok() && request.on_waiting) {
            if (auto abort = request.on_waiting())
                o.result = result("aborted, rolled back");
        }
        if (!o.result.ok())
            return o;
        std::lock_guard<std::mutex> lock(m_->mutex);
        if (request.goal == model::Goal::Switch || request.goal == model::Goal::Boot) {
            m_->profile = request.system;
            ++m_->generation;
        }
        if (request.goal == model::Goal::Switch || request.goal == model::Goal::Test)
            m_->current = request.system;
        return o;
    }

    host::ActivationOutcome rollback_generation(const host::LineHandler&) override {
        host::ActivationOutcome o;
        std::lock_guard<std::mutex> lock(m_->mutex);
        if (m_->generation <= 1) {
            o.result = result("failed 1");
            return o;
        }
        --m_->generation;
        o.result = result("ok");
        return o;
    }

    // A fake machine has no other deployer and no earlier activation.
    host::LockAnswer lock(const host::LockHolderRecord&, std::chrono::seconds,
                          const std::function<void(const host::LockHolderRecord&)>&) override {
        host::LockAnswer answer;
        answer.read("locked 1");
        answer.read("ready");
        return answer;
    }
    host::ActivationOutcome settle_activation(const std::string& id,
                                              const std::optional<std::string>&,
                                              const host::LineHandler&) override {
        throw Error("FakeHost: no activation " + id + " to settle");
    }

  private:
    static host::ActivationResult result(const std::string& text) {
        auto parsed = host::parse_activation_result(text);
        if (!parsed)
            throw Error("FakeHost: \"" + text + "\" is not an activation result");
        return *parsed;
    }

    std::shared_ptr<FakeMachine> m_;
};

// Hands out FakeHosts by machine name; a machine it does not know refuses the connection.
class FakeConnector : public session::Connector {
  public:
    std::shared_ptr<FakeMachine> add(const std::string& name) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto& m = machines_[name];
        if (!m)
            m = std::make_shared<FakeMachine>();
        return m;
    }
    std::shared_ptr<FakeMachine> machine(const std::string& name) {
        std::lock_guard<std::mutex> lock(mutex_);
        return machines_.at(name);
    }
    std::unique_ptr<host::Host> connect(const model::Machine& m) override {
        std::shared_ptr<FakeMachine> fake;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = machines_.find(m.name);
            if (it == machines_.end())
                throw Error(fmt::format("connecting to {}: connection refused (no such fake "
                                        "machine)",
                                        m.name));
            fake = it->second;
        }
        if (fake->on_connect)
            fake->on_connect();
        {
            std::lock_guard<std::mutex> lock(fake->mutex);
            ++fake->connections;
        }
        return std::make_unique<FakeHost>(fake);
    }

  private:
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<FakeMachine>> machines_;
};

} // namespace fedi::test
