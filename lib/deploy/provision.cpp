#include "deploy/provision.hpp"

#include "core/error.hpp"
#include "deploy/selection.hpp"
#include "state/state.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <mutex>
#include <thread>

namespace fedi::deploy {

namespace {

using Clock = std::chrono::steady_clock;

// The state shared by the machines being provisioned at once; saved on every change.
class SharedState {
  public:
    SharedState(std::string file) : file_(std::move(file)), state_(state::load(file_)) {}
    std::optional<provider::Record> record(const std::string& machine) {
        std::lock_guard<std::mutex> lock(mutex_);
        return provider::find_record(state_, machine);
    }
    void save(const std::string& machine, const provider::Record& r) {
        std::lock_guard<std::mutex> lock(mutex_);
        provider::set_record(state_, machine, r);
        state::save(file_, state_);
    }
    const state::State& state() const { return state_; }

  private:
    std::string file_;
    std::mutex mutex_;
    state::State state_;
};

provider::Request make_request(const session::Project& project, const model::Machine& m) {
    provider::Request req;
    req.machine = m.name;
    req.settings = m.provision->settings.get();
    if (m.ssh_given.count("port"))
        req.ssh_port = m.ssh.port;
    req.protect = m.protect;
    req.deployment_file = project.deployment.file;
    req.state_dir = std::filesystem::path(project.state_file).parent_path().string();
    return req;
}

std::unique_ptr<provider::Provider>
make_provider(const session::Project& project, const std::string& provider_name,
              const std::string& machine, ui::Events& reporter,
              std::function<void(const provider::Record&)> save) {
    const auto& d = project.deployment;
    auto it = d.providers.find(provider_name);
    if (it == d.providers.end())
        throw usage_error(fmt::format("machine {} was provisioned by provider \"{}\", which the "
                                      "deployment no longer declares",
                                      machine, provider_name));
    provider::Context ctx;
    ctx.info = [&reporter, machine](const std::string& t) { reporter.info(machine, t); };
    ctx.detail = [&reporter, machine](const std::string& t) { reporter.detail(machine, t); };
    ctx.save = std::move(save);
    ctx.state_dir = std::filesystem::path(project.state_file).parent_path().string();
    return provider::find_provider_type(it->second.type)->make(*it->second.settings, ctx);
}

void converge_machine(const session::Project& project, const model::Machine& m, bool dry_run,
                      SharedState& shared, ui::Events& ui, ProvisionedMachine& out) {
    const auto& prov = *m.provision;
    out.provider = prov.provider;
    out.type = prov.type;
    auto save = [&](provider::Record r) {
        r.provider = prov.provider;
        shared.save(m.name, r);
    };
    auto provider = make_provider(project, prov.provider, m.name, ui, save);
    auto req = make_request(project, m);
    auto rec = shared.record(m.name);
    if (rec && rec->provider != prov.provider)
        throw Error(fmt::format("machine {} was provisioned by provider \"{}\" and the deployment "
                                "now says \"{}\"; a machine cannot move between providers: "
                                "destroy it first (fedi provision --destroy {})",
                                m.name, rec->provider, prov.provider, m.name));
    auto observed = provider->read(req, rec);
    if (rec && !observed)
        ui.warn(m.name, fmt::format("{} recorded in state is gone; making a new one",
                                    provider->describe(*rec)));
    provider::Record result;
    if (!observed) {
        out.changes.push_back({"machine", "", "a new " + prov.type + " machine"});
        if (dry_run) {
            out.outcome = ProvisionOutcome::Planned;
            ui.info(m.name,
                    fmt::format("would create a new machine with provider {}", prov.provider));
            return;
        }
        result = provider->create(req);
        out.outcome = ProvisionOutcome::Created;
    } else {
        auto plan = provider->diff(req, *observed);
        out.changes = plan.changes;
        out.fixed = plan.fixed;
        for (const auto& c : plan.fixed)
            ui.warn(m.name, "cannot change in place (destroy and provision again to apply): " +
                                c.describe());
        bool complete = observed->complete && observed->protect == m.protect;
        if (dry_run) {
            for (const auto& c : plan.changes)
                ui.info(m.name, "would change " + c.describe());
            out.outcome = plan.changes.empty() && observed->complete ? ProvisionOutcome::Unchanged
                                                                     : ProvisionOutcome::Planned;
            out.id = observed->id;
            out.outputs = observed->outputs;
            return;
        }
        if (plan.changes.empty() && complete) {
            out.outcome = ProvisionOutcome::Unchanged;
            result = *observed;
        } else {
            result = provider->update(req, *observed, plan);
            out.outcome = plan.changes.empty() && observed->complete ? ProvisionOutcome::Unchanged
                                                                     : ProvisionOutcome::Changed;
        }
    }
    save(result);
    out.id = result.id;
    out.outputs = result.outputs;
}

ProvisionReport converge(const session::Project& project, const std::vector<std::string>& selected,
                         bool dry_run, ui::Events& ui) {
    ProvisionReport report;
    SharedState shared(project.state_file);
    const auto& d = project.deployment;
    std::vector<ProvisionedMachine> results(selected.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < selected.size(); ++i) {
        const auto& m = d.machines.at(selected[i]);
        auto& out = results[i];
        out.name = m.name;
        if (!m.provision) {
            out.outcome = ProvisionOutcome::Existing;
            out.outputs.host = m.ssh.host;
            out.outputs.port = m.ssh.port;
            out.outputs.user = m.ssh.user;
            if (m.ssh.host_key)
                out.outputs.host_keys.push_back(*m.ssh.host_key);
            continue;
        }
        threads.emplace_back([&, i] {
            auto& o = results[i];
            auto start = Clock::now();
            try {
                converge_machine(project, d.machines.at(o.name), dry_run, shared, ui, o);
            } catch (const Error& e) {
                o.outcome = ProvisionOutcome::Failed;
                o.error = e.describe();
            } catch (const std::exception& e) {
                o.outcome = ProvisionOutcome::Failed;
                o.error = e.what();
            }
            o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
            if (o.outcome == ProvisionOutcome::Failed)
                ui.error(o.name, "provisioning failed: " + o.error);
            else if (o.outcome != ProvisionOutcome::Planned)
                ui.info(o.name, fmt::format("{}: {}:{}", to_string(o.outcome), o.outputs.host,
                                            o.outputs.port));
        });
    }
    for (auto& t : threads)
        t.join();
    report.machines = std::move(results);
    for (const auto& [name, rec] : provider::records(shared.state()))
        if (!d.machines.count(name)) {
            report.orphans.push_back(name);
            ui.warn(name, fmt::format("in state ({}) but not in the deployment; remove it with "
                                      "fedi provision --destroy {}",
                                      rec.id, name));
        }
    return report;
}

} // namespace

std::string to_string(ProvisionOutcome o) {
    switch (o) {
    case ProvisionOutcome::Existing:
        return "existing";
    case ProvisionOutcome::Planned:
        return "planned";
    case ProvisionOutcome::Created:
        return "created";
    case ProvisionOutcome::Changed:
        return "changed";
    case ProvisionOutcome::Unchanged:
        return "unchanged";
    case ProvisionOutcome::Failed:
        return "failed";
    case ProvisionOutcome::Destroyed:
        return "destroyed";
    }
    return "?";
}

bool ProvisionReport::ok() const {
    return std::all_of(machines.begin(), machines.end(),
                       [](const ProvisionedMachine& m) { return m.ok(); });
}

ProvisionReport run_provision(const ProvisionOptions& opts, ui::Events& reporter) {
    std::unique_ptr<state::Lock> lock;
    if (!opts.dry_run)
        lock = state::Lock::acquire(session::resolve_state_file(opts.project), opts.command_line);
    auto project = session::load_project(opts.project);
    return converge(project, select_machines(project.deployment, opts.on), opts.dry_run, reporter);
}

session::Project provision_for_deploy(const session::Project& project,
                                      const std::vector<std::string>& on, bool dry_run,
                                      ui::Events& reporter) {
    std::vector<std::string> provisioned;
    for (const auto& name : select_machines(project.deployment, on))
        if (project.deployment.machines.at(name).provision)
            provisioned.push_back(name);
    if (provisioned.empty())
        return project;
    auto report = converge(project, provisioned, dry_run, reporter);
    if (!report.ok()) {
        std::string failed;
        for (const auto& m : report.machines)
            if (!m.ok())
                failed += fmt::format("\n{}: {}", m.name, m.error);
        throw Error("provisioning failed, nothing was deployed:" + failed);
    }
    if (dry_run)
        return project;
    // Evaluate again: the deployment may use the new machines' outputs.
    session::ProjectOptions again;
    again.deployment_file = project.deployment.file;
    again.state_file = project.state_file;
    again.on_warning = [](const model::Warning&) {}; // reported by the first load
    return session::load_project(again);
}

ProvisionReport destroy_machine(const ProvisionOptions& opts, const std::string& machine,
                                const Confirm& confirm, ui::Events& reporter) {
    auto lock = state::Lock::acquire(session::resolve_state_file(opts.project), opts.command_line);
    auto project = session::load_project(opts.project);
    auto st = state::load(project.state_file);
    auto rec = provider::find_record(st, machine);
    const auto& d = project.deployment;
    auto m = d.machines.find(machine);
    if (!rec) {
        if (m != d.machines.end() && !m->second.provision)
            throw usage_error(fmt::format("machine {} is not provisioned by fedi (it is given by "
                                          "machines.{}.ssh); there is nothing to destroy",
                                          machine, machine));
        throw usage_error(fmt::format("no provisioned machine named {} in state {}", machine,
                                      project.state_file));
    }
    bool protect = rec->protect || (m != d.machines.end() && m->second.protect);
    if (protect)
        throw usage_error(fmt::format("machine {} is protected (protect = true); refusing to "
                                      "destroy it. Set protect = false in the deployment and run "
                                      "`fedi provision --on {}` first",
                                      machine, machine));
    auto provider =
        make_provider(project, rec->provider, machine, reporter, [](const provider::Record&) {});
    auto what = provider->describe(*rec);
    ProvisionReport report;
    ProvisionedMachine out;
    out.name = machine;
    out.provider = rec->provider;
    out.type = rec->type;
    out.id = rec->id;
    out.outputs = rec->outputs;
    if (!confirm(machine, what))
        throw usage_error(fmt::format("not destroying {}: not confirmed", machine));
    auto start = Clock::now();
    with_context(fmt::format("destroying machine {} ({})", machine, what),
                 [&] { provider->destroy(*rec); });
    provider::erase_record(st, machine);
    st.machines.erase(machine); // its host keys and generations went with it
    state::save(project.state_file, st);
    out.outcome = ProvisionOutcome::Destroyed;
    out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    reporter.info(machine, "destroyed " + what);
    report.machines.push_back(out);
    return report;
}

nlohmann::json to_json(const ProvisionReport& r) {
    nlohmann::json machines = nlohmann::json::array();
    auto changes = [](const std::vector<provider::Change>& list) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& c : list)
            a.push_back({{"what", c.what}, {"from", c.from}, {"to", c.to}});
        return a;
    };
    for (const auto& m : r.machines) {
        nlohmann::json j = {{"name", m.name},
                            {"result", to_string(m.outcome)},
                            {"provider", m.provider},
                            {"type", m.type},
                            {"id", m.id},
                            {"outputs", provider::to_json(m.outputs)},
                            {"changes", changes(m.changes)},
                            {"cannotChange", changes(m.fixed)},
                            {"seconds", m.seconds}};
        if (!m.error.empty())
            j["error"] = m.error;
        machines.push_back(j);
    }
    return {{"ok", r.ok()}, {"machines", machines}, {"orphans", r.orphans}};
}

std::string render_provision(const ProvisionReport& r, bool color) {
    std::vector<std::vector<std::string>> rows = {
        {"MACHINE", "PROVIDER", "RESULT", "ADDRESS", "ID", "DETAIL"}};
    for (const auto& m : r.machines) {
        std::string detail;
        if (m.outcome == ProvisionOutcome::Failed)
            detail = m.error.substr(0, m.error.find('\n'));
        else if (!m.fixed.empty())
            detail = fmt::format("{} change(s) need a new machine", m.fixed.size());
        else if (!m.changes.empty())
            detail = fmt::format("{} change(s)", m.changes.size());
        std::string address = m.outputs.host.empty() ? "-"
                                                     : fmt::format("{}@{}:{}", m.outputs.user,
                                                                   m.outputs.host, m.outputs.port);
        rows.push_back({m.name, m.provider.empty() ? "-" : m.provider, to_string(m.outcome),
                        address, m.id.empty() ? "-" : m.id, detail});
    }
    return ui::render_table(rows, color);
}

} // namespace fedi::deploy
