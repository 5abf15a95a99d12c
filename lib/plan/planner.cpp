// `fedi plan`: the parts (parts.hpp) put together. Each part's failure becomes an error
// of the plan (of a machine when it is one machine's), never the end of the plan.
#include "plan/planner.hpp"

#include "core/error.hpp"
#include "deploy/phases.hpp"
#include "deploy/selection.hpp"
#include "deploy/storage_phase.hpp"
#include "plan/parts.hpp"
#include "session/for_each_machine.hpp"
#include "state/state.hpp"

#include <algorithm>
#include <atomic>
#include <fmt/format.h>
#include <memory>
#include <mutex>

namespace fedi::plan {

namespace {

std::string message_of(const std::exception& e) {
    if (const auto* f = dynamic_cast<const Error*>(&e))
        return f->describe();
    return e.what();
}

// One LocalClosure per system, shared by the machines that run it.
class ClosureSet {
  public:
    nix::LocalClosure& of(const std::string& system) {
        std::lock_guard lock(mutex_);
        auto& c = closures_[system];
        if (!c) {
            c = std::make_unique<nix::LocalClosure>(std::vector<std::string>{system});
            c->start();
        }
        return *c;
    }

  private:
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<nix::LocalClosure>> closures_;
};

void add_observed(Plan& p, const std::map<std::string, std::string>& observed) {
    p.observed.insert(observed.begin(), observed.end());
}

void append(std::vector<std::string>& to, const std::vector<std::string>& from) {
    to.insert(to.end(), from.begin(), from.end());
}

// What the machine would receive: the secrets it is declared and its bucket keys.
struct MachineSecrets {
    std::vector<host::SecretFile> files;
    std::vector<std::pair<std::string, std::string>> made_at_deploy;
};

MachineSecrets secrets_of(const std::string& machine, const DeclaredSecrets& declared,
                          const StorageParts& storage) {
    MachineSecrets out;
    auto add_files = [&](const auto& by_machine) {
        if (auto it = by_machine.find(machine); it != by_machine.end())
            out.files.insert(out.files.end(), it->second.begin(), it->second.end());
    };
    add_files(declared.files);
    add_files(storage.key_files);
    if (auto it = declared.made_at_deploy.find(machine); it != declared.made_at_deploy.end())
        out.made_at_deploy = it->second;
    if (auto it = storage.keys_to_make.find(machine); it != storage.keys_to_make.end())
        for (const auto& name : it->second)
            out.made_at_deploy.emplace_back(name, "a bucket key made at deploy");
    return out;
}

struct Inputs {
    session::Session& session;
    model::Goal goal;
    const ProvisionParts& provision;
    const DeclaredSecrets& declared;
    const StorageParts& storage;
    ClosureSet& closures;
};

// Whether the machine can only be asked once the deploy has provisioned it: it is to be
// made (again), or it is stopped and the deploy would start it.
bool not_running_yet(const ProvisionPlan& p) {
    if (p.action == Action::Create || p.action == Action::Replace)
        return true;
    return std::any_of(p.changes.begin(), p.changes.end(),
                       [](const FieldChange& c) { return c.from == "stopped"; });
}

// One machine's system and secrets: one connection, one probe.
void plan_machine(const Inputs& in, MachinePlan& mp) {
    const auto& m = in.session.deployment().machines.at(mp.name);
    auto& closure = in.closures.of(m.system.out_path);
    if (not_running_yet(mp.provision)) { // planned as new: everything is sent
        mp.system = plan_system(m.system.out_path, in.goal, std::nullopt, closure);
        return;
    }
    auto host = in.session.connector().connect(m);
    auto facts = probe_machine(*host, m.system.out_path, closure.paths());
    mp.system = plan_system(m.system.out_path, in.goal, facts, closure);
    if (model::goal_delivers_secrets(in.goal)) {
        auto secrets = secrets_of(mp.name, in.declared, in.storage);
        mp.secrets = diff_secrets(secrets.files, secrets.made_at_deploy, facts.secrets);
    }
}

void plan_machines(const Inputs& in, Plan& p) {
    std::mutex mutex;
    std::vector<std::string> names;
    for (const auto& mp : p.machines)
        if (mp.errors.empty())
            names.push_back(mp.name);
    auto plan_of = [&p](const std::string& name) -> MachinePlan& {
        for (auto& mp : p.machines)
            if (mp.name == name)
                return mp;
        throw Error("plan: no machine " + name);
    };
    auto& events = in.session.events();
    std::atomic<std::size_t> done{0};
    auto progress = [&] {
        events.status("plan", fmt::format("planning: {}/{} machines", ++done, names.size()));
    };
    events.info("plan", fmt::format("asking {} machine{} what would change", names.size(),
                                    names.size() == 1 ? "" : "s"));
    session::MachineWork work;
    work.run = [&](const std::string& name) {
        plan_machine(in, plan_of(name));
        progress();
        return true;
    };
    work.on_error = [&](const std::string& name, const std::string& error) {
        std::lock_guard lock(mutex);
        plan_of(name).errors.push_back(error);
        progress();
    };
    work.on_skipped = [](const std::string&, const std::string&) {};
    session::for_each_machine(session::independent_jobs(names), in.session.limits().machines, work);
    events.remove_status("plan");
}

void observe_machines(Plan& p) {
    for (const auto& mp : p.machines) {
        const auto key = "machine." + mp.name;
        p.observed[key + ".system"] = mp.system.system;
        if (!mp.system.observed)
            continue;
        p.observed[key + ".current"] = mp.system.current;
        p.observed[key + ".generation"] =
            mp.system.generation ? std::to_string(*mp.system.generation) : "none";
    }
}

template <typename F> void part(std::vector<std::string>& errors, const std::string& what, F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        errors.push_back(what + ": " + message_of(e));
    }
}

// The selected machines after provisioning, with what building their systems said.
std::vector<std::string> plan_selected(session::Session& s, const PlanOptions& opts,
                                       const ProvisionParts& provision, Plan& p) {
    const auto& d = s.deployment();
    p.deployment = d.file;
    auto selected = deploy::select_machines(d, opts.on);
    auto built = deploy::build_phase(s, selected, opts.goal);
    for (const auto& name : selected) {
        MachinePlan mp;
        mp.name = name;
        mp.system.system = d.machines.at(name).system.out_path;
        if (auto it = provision.machines.find(name); it != provision.machines.end())
            mp.provision = it->second;
        if (auto f = built.failed.find(name); f != built.failed.end())
            mp.errors.push_back(f->second.error);
        p.machines.push_back(std::move(mp));
    }
    return selected;
}

void plan_accounts_of(session::Session& s, const std::set<std::string>& machines, Plan& p) {
    AccountsPart part_found;
    part(p.errors, "accounts", [&] { part_found = plan_accounts(s, machines); });
    for (auto& mp : p.machines) {
        for (auto& a : part_found.accounts)
            if (mp.name == a.machine)
                mp.accounts.push_back(a);
        if (auto e = part_found.machine_errors.find(mp.name); e != part_found.machine_errors.end())
            mp.errors.push_back("accounts: " + e->second);
    }
}

} // namespace

Plan make_plan(session::Session& s, const PlanOptions& opts) {
    Plan p;
    p.goal = opts.goal;
    p.on = opts.on;
    p.created = state::now_utc();
    ProvisionParts provision;
    if (model::goal_needs_machine(opts.goal))
        part(p.errors, "provisioning", [&] { provision = plan_provisioning(s, opts.on); });
    append(p.errors, provision.errors);
    p.destroyed = provision.destroyed;
    add_observed(p, provision.observed);
    auto selected = plan_selected(s, opts, provision, p);
    if (opts.goal == model::Goal::Build) { // no machine is asked: the systems are the plan
        observe_machines(p);
        return p;
    }
    std::set<std::string> machines(selected.begin(), selected.end());
    StorageParts storage;
    DeclaredSecrets declared;
    if (model::goal_delivers_secrets(opts.goal)) {
        auto storages = deploy::storages_needed(s.deployment(), machines);
        if (!storages.empty())
            part(p.errors, "storage", [&] { storage = plan_storage(s, storages); });
        part(p.errors, "secrets", [&] { declared = declared_secrets(s, machines); });
    }
    p.storage = storage.plan;
    append(p.errors, storage.errors);
    append(p.errors, declared.errors);
    add_observed(p, storage.observed);
    ClosureSet closures;
    plan_machines({s, opts.goal, provision, declared, storage, closures}, p);
    observe_machines(p);
    if (model::goal_activates(opts.goal))
        plan_accounts_of(s, machines, p);
    if (model::goal_delivers_secrets(opts.goal))
        part(p.errors, "directory", [&] { p.directory = plan_directory(s); });
    return p;
}

} // namespace fedi::plan
