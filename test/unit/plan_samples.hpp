#pragma once
// Plans built by hand for the plan's unit tests (rendering, JSON, drift): one of each kind
// of change, so every line of the rendered plan and every field of the document is used.
#include "plan/plan.hpp"

namespace fedi::test {

inline plan::MachinePlan changed_machine() {
    plan::MachinePlan m;
    m.name = "web";
    m.provision = {plan::Action::Update,         "pve", "proxmox", "105",
                   {{"memory", "2048", "4096"}}, {},    ""};
    auto& s = m.system;
    s.system = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web";
    s.current = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web";
    s.profile = s.current;
    s.generation = 4;
    s.observed = true;
    s.activation = plan::Activation::Activate;
    s.packages = {{"firefox", {"119.0"}, {"120.0"}, 2202009},
                  {"libfoo", {}, {"1.2"}, 307200},
                  {"oldlib", {"2.0", "2.1"}, {}, -1048576}};
    s.paths_total = 340;
    s.paths_to_send = 12;
    s.bytes_to_send = 432013312;
    m.secrets = {{"db-password", plan::Action::Create, "secrets.db", {}},
                 {"s3-key", plan::Action::Update, "buckets.media.keys.web", {"content differs"}},
                 {"old-token", plan::Action::Destroy, "", {}},
                 {"same", plan::Action::None, "secrets.same", {}}};
    m.accounts = {{"account", "admin", "web", plan::Action::Create, {"does not exist"}}};
    return m;
}

inline plan::MachinePlan unchanged_machine(const std::string& name) {
    plan::MachinePlan m;
    m.name = name;
    m.system.system = "/nix/store/cccccccccccccccccccccccccccccccc-nixos-system-" + name;
    m.system.current = m.system.system;
    m.system.profile = m.system.system;
    m.system.generation = 2;
    m.system.observed = true;
    m.system.paths_total = 300;
    return m;
}

inline plan::MachinePlan new_vm() {
    plan::MachinePlan m;
    m.name = "video";
    m.provision = {plan::Action::Create, "pve", "proxmox", "", {{"cores", "", "4"}}, {}, ""};
    m.system.system = "/nix/store/dddddddddddddddddddddddddddddddd-nixos-system-video";
    m.system.activation = plan::Activation::Activate;
    m.system.paths_total = 320;
    m.system.paths_to_send = 320;
    m.system.bytes_to_send = 1073741824;
    return m;
}

// Every kind of change: a machine changed, one up to date, one created, one that cannot
// be planned; storage, directory, a machine to destroy and an error of the plan.
inline plan::Plan full_plan() {
    plan::Plan p;
    p.deployment = "/srv/fleet/deployment.nix";
    p.goal = model::Goal::Switch;
    p.on = {"web", "@video"};
    p.created = "2026-12-07T12:00:00Z";
    auto broken = unchanged_machine("mail");
    broken.errors = {"cannot connect to mail (10.0.0.9:22): Connection refused"};
    broken.system.observed = false;
    p.machines = {unchanged_machine("db"), broken, new_vm(), changed_machine()};
    p.machines[3].provision.fixed = {};
    p.destroyed = {"old"};
    p.storage.items = {{"s3", "bucket", "media", plan::Action::Create, {{"quota", "", "10 GiB"}}},
                       {"s3", "node", "garage1", plan::Action::Update, {{"zone", "a", "b"}}},
                       {"s3", "bucket", "same", plan::Action::None, {}}};
    p.storage.undeclared = {"bucket s3.leftover"};
    p.directory = {{"directory",
                    "uid=alice,ou=people,dc=example,dc=org",
                    "",
                    plan::Action::Create,
                    {"does not exist"}}};
    p.errors = {"storage: s3 answered 503"};
    p.observed = {{"machine.web.system", p.machines[3].system.system},
                  {"machine.web.generation", "4"},
                  {"vm.web", "sha256:0123"},
                  {"bucket.s3.media", "absent"}};
    return p;
}

} // namespace fedi::test
