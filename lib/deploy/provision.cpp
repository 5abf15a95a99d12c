#include "deploy/provision.hpp"

#include "core/enum_names.hpp"

#include "core/error.hpp"
#include "deploy/per_machine.hpp"
#include "deploy/selection.hpp"
#include "session/stopwatch.hpp"
#include "state/state.hpp"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>

namespace fedi::deploy {

namespace {

provider::Request make_request(const session::Project& project, const model::Machine& m) {
    provider::Request req;
    req.machine = m.name;
    req.settings = m.provision->settings.get();
    if (m.ssh_given.count("port"))
        req.ssh_port = m.ssh.port;
    req.protect = m.protect;
    req.deployment_file = project.deployment.file;
    req.state_dir = project.local_dir;
    return req;
}

// The provider `provider_name` of the deployment, reporting on the session's events and
// saving records with `save`.
std::unique_ptr<provider::Provider>
make_provider(session::Session& s, const std::string& provider_name, const std::string& machine,
              std::function<void(const provider::Record&)> save) {
    const auto& d = s.deployment();
    auto it = d.providers.find(provider_name);
    if (it == d.providers.end())
        throw usage_error(fmt::format("machine {} was provisioned by provider \"{}\", which the "
                                      "deployment no longer declares",
                                      machine, provider_name));
    auto& events = s.events();
    provider::Context ctx;
    ctx.info = [&events, machine](const std::string& t) { events.info(machine, t); };
    ctx.detail = [&events, machine](const std::string& t) { events.detail(machine, t); };
    ctx.save = std::move(save);
    ctx.state_dir = s.project().local_dir;
    return provider::find_provider_type(it->second.type)->make(*it->second.settings, ctx);
}

void check_same_provider(const model::Machine& m, const std::optional<provider::Record>& rec) {
    const auto& wanted = m.provision->provider;
    if (rec && rec->provider != wanted)
        throw Error(fmt::format("machine {} was provisioned by provider \"{}\" and the deployment "
                                "now says \"{}\"; a machine cannot move between providers: "
                                "destroy it first (fedi provision --destroy {})",
                                m.name, rec->provider, wanted, m.name));
}

// A machine that does not exist yet: made now, or (dry run) only planned.
std::optional<provider::Record> create_machine(provider::Provider& p, const provider::Request& req,
                                               const model::Machine& m, bool dry_run,
                                               ui::Events& ui, ProvisionedMachine& out) {
    out.changes.push_back({"machine", "", "a new " + m.provision->type + " machine"});
    if (dry_run) {
        out.outcome = ProvisionOutcome::Planned;
        ui.info(m.name,
                fmt::format("would create a new machine with provider {}", m.provision->provider));
        return std::nullopt;
    }
    auto result = p.create(req);
    out.outcome = ProvisionOutcome::Created;
    return result;
}

// A machine that exists: what drifted is changed in place, or (dry run) only told.
std::optional<provider::Record> update_machine(provider::Provider& p, const provider::Request& req,
                                               const model::Machine& m,
                                               const provider::Record& observed, bool dry_run,
                                               ui::Events& ui, ProvisionedMachine& out) {
    auto plan = p.diff(req, observed);
    out.changes = plan.changes;
    out.fixed = plan.fixed;
    for (const auto& c : plan.fixed)
        ui.warn(m.name,
                "cannot change in place (destroy and provision again to apply): " + c.describe());
    bool unchanged = plan.changes.empty() && observed.complete;
    out.outcome = unchanged ? ProvisionOutcome::Unchanged : ProvisionOutcome::Changed;
    if (dry_run) {
        for (const auto& c : plan.changes)
            ui.info(m.name, "would change " + c.describe());
        out.outcome = unchanged ? ProvisionOutcome::Unchanged : ProvisionOutcome::Planned;
        out.id = observed.id;
        out.outputs = observed.outputs;
        return std::nullopt;
    }
    if (unchanged && observed.protect == m.protect)
        return observed;
    return p.update(req, observed, plan);
}

// Makes one machine as the deployment describes it; its record is saved through the
// state store as soon as the provider has one (a failed save fails the machine).
void converge_machine(session::Session& s, const model::Machine& m, bool dry_run,
                      ProvisionedMachine& out) {
    out.provider = m.provision->provider;
    out.type = m.provision->type;
    auto save = [&s, &m](provider::Record r) {
        r.provider = m.provision->provider;
        s.state().change([&](state::State& st) { provider::set_record(st, m.name, r); });
    };
    auto provider = make_provider(s, m.provision->provider, m.name, save);
    auto req = make_request(s.project(), m);
    auto rec = provider::find_record(s.state().snapshot(), m.name);
    check_same_provider(m, rec);
    auto observed = provider->read(req, rec);
    if (rec && !observed)
        s.events().warn(m.name, fmt::format("{} recorded in state is gone; making a new one",
                                            provider->describe(*rec)));
    out.found = observed.has_value();
    auto result = observed ? update_machine(*provider, req, m, *observed, dry_run, s.events(), out)
                           : create_machine(*provider, req, m, dry_run, s.events(), out);
    if (!result)
        return;
    save(*result);
    out.id = result->id;
    out.outputs = result->outputs;
}

// A machine fedi does not provision: its address as the deployment gives it.
void existing_machine(const model::Machine& m, ProvisionedMachine& out) {
    out.outcome = ProvisionOutcome::Existing;
    out.outputs.host = m.ssh.host;
    out.outputs.port = m.ssh.port;
    out.outputs.user = m.ssh.user;
    if (m.ssh.host_key)
        out.outputs.host_keys.push_back(*m.ssh.host_key);
}

session::MachineWork provision_work(session::Session& s, bool dry_run,
                                    PerMachine<ProvisionedMachine>& results) {
    session::MachineWork work;
    work.run = [&s, dry_run, &results](const std::string& name) {
        auto& o = results[name];
        {
            session::Stopwatch stopwatch(o.seconds);
            converge_machine(s, s.deployment().machines.at(name), dry_run, o);
        }
        if (o.outcome != ProvisionOutcome::Planned)
            s.events().info(name, fmt::format("{}: {}:{}", to_string(o.outcome), o.outputs.host,
                                              o.outputs.port));
        return true;
    };
    work.on_error = [&s, &results](const std::string& name, const std::string& error) {
        auto& o = results[name];
        o.outcome = ProvisionOutcome::Failed;
        o.error = error;
        s.events().error(name, "provisioning failed: " + error);
    };
    work.on_skipped = [](const std::string&, const std::string&) {};
    return work;
}

// Machines state records as provisioned that the deployment no longer has.
std::vector<std::string> find_orphans(session::Session& s) {
    std::vector<std::string> orphans;
    for (const auto& [name, rec] : provider::records(s.state().snapshot()))
        if (!s.deployment().machines.count(name)) {
            orphans.push_back(name);
            s.events().warn(name, fmt::format("in state ({}) but not in the deployment; remove "
                                              "it with fedi provision --destroy {}",
                                              rec.id, name));
        }
    return orphans;
}

ProvisionReport converge(session::Session& s, const std::vector<std::string>& selected,
                         bool dry_run) {
    PerMachine<ProvisionedMachine> results(selected);
    std::vector<std::string> provisioned;
    for (const auto& name : selected) {
        const auto& m = s.deployment().machines.at(name);
        if (m.provision)
            provisioned.push_back(name);
        else
            existing_machine(m, results[name]);
    }
    session::for_each_machine(session::independent_jobs(provisioned), s.limits().machines,
                              provision_work(s, dry_run, results));
    ProvisionReport report;
    report.machines = std::move(results.all());
    report.orphans = find_orphans(s);
    return report;
}

// The record of a machine that may be destroyed; usage errors for the others.
provider::Record destroyable(session::Session& s, const std::string& machine) {
    auto rec = provider::find_record(s.state().snapshot(), machine);
    const auto& d = s.deployment();
    auto m = d.machines.find(machine);
    if (!rec) {
        if (m != d.machines.end() && !m->second.provision)
            throw usage_error(fmt::format("machine {} is not provisioned by fedi (it is given by "
                                          "machines.{}.ssh); there is nothing to destroy",
                                          machine, machine));
        throw usage_error(fmt::format("no provisioned machine named {} in state {}", machine,
                                      s.project().state_location));
    }
    if (rec->protect || (m != d.machines.end() && m->second.protect))
        throw usage_error(fmt::format("machine {} is protected (protect = true); refusing to "
                                      "destroy it. Set protect = false in the deployment and run "
                                      "`fedi provision --on {}` first",
                                      machine, machine));
    return *rec;
}

} // namespace

std::string to_string(ProvisionOutcome o) {
    static constexpr EnumName<ProvisionOutcome> names[] = {
        {ProvisionOutcome::Existing, "existing"},   {ProvisionOutcome::Planned, "planned"},
        {ProvisionOutcome::Created, "created"},     {ProvisionOutcome::Changed, "changed"},
        {ProvisionOutcome::Unchanged, "unchanged"}, {ProvisionOutcome::Failed, "failed"},
        {ProvisionOutcome::Destroyed, "destroyed"}};
    return name_of(o, names);
}

bool ProvisionReport::ok() const {
    return std::all_of(machines.begin(), machines.end(),
                       [](const ProvisionedMachine& m) { return m.ok(); });
}

ProvisionReport run_provision(session::Session& s, const std::vector<std::string>& on,
                              bool dry_run) {
    return converge(s, select_machines(s.deployment(), on), dry_run);
}

ProvisionReport run_provision(const ProvisionOptions& opts, ui::Events& events) {
    auto options = opts.session;
    options.state_mode = opts.dry_run ? session::StateMode::ReadOnly : session::StateMode::Locked;
    auto s = session::open_session(options, events);
    return run_provision(*s, opts.on, opts.dry_run);
}

void provision_for_deploy(session::Session& s, const std::vector<std::string>& on, bool dry_run) {
    std::vector<std::string> provisioned;
    for (const auto& name : select_machines(s.deployment(), on))
        if (s.deployment().machines.at(name).provision)
            provisioned.push_back(name);
    if (provisioned.empty())
        return;
    auto report = converge(s, provisioned, dry_run);
    if (!report.ok()) {
        std::string failed;
        for (const auto& m : report.machines)
            if (!m.ok())
                failed += fmt::format("\n{}: {}", m.name, m.error);
        throw Error("provisioning failed, nothing was deployed:" + failed);
    }
    if (dry_run)
        return;
    // Evaluate again: the deployment may use the new machines' outputs.
    session::ProjectOptions again;
    again.deployment_file = s.deployment().file;
    again.state_file = s.project().state_location;
    again.on_warning = [](const model::Warning&) {}; // reported by the first load
    s.set_project(session::load_project(again, s.state().snapshot()));
}

ProvisionReport destroy_machine(session::Session& s, const std::string& machine,
                                const Confirm& confirm) {
    auto rec = destroyable(s, machine);
    auto provider = make_provider(s, rec.provider, machine, [](const provider::Record&) {});
    auto what = provider->describe(rec);
    ProvisionedMachine out;
    out.name = machine;
    out.provider = rec.provider;
    out.type = rec.type;
    out.id = rec.id;
    out.outputs = rec.outputs;
    if (!confirm(machine, what))
        throw usage_error(fmt::format("not destroying {}: not confirmed", machine));
    {
        session::Stopwatch stopwatch(out.seconds);
        with_context(fmt::format("destroying machine {} ({})", machine, what),
                     [&] { provider->destroy(rec); });
        s.state().change([&](state::State& st) {
            provider::erase_record(st, machine);
            st.machines.erase(machine); // its host keys and generations went with it
        });
    }
    out.outcome = ProvisionOutcome::Destroyed;
    s.events().info(machine, "destroyed " + what);
    ProvisionReport report;
    report.machines.push_back(out);
    return report;
}

ProvisionReport destroy_machine(const ProvisionOptions& opts, const std::string& machine,
                                const Confirm& confirm, ui::Events& events) {
    auto options = opts.session;
    options.state_mode = session::StateMode::Locked;
    auto s = session::open_session(options, events);
    return destroy_machine(*s, machine, confirm);
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
