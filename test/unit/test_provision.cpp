// Provisioning without a network: deployment parsing of providers and provision,
// state records and resources, and the Proxmox planning (what drifted, what can change
// in place).
#include "core/error.hpp"
#include "model/deployment.hpp"
#include "provider/provider.hpp"
#include "provider/proxmox_provider.hpp"
#include "state/state.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace fedi;
using namespace fedi::provider;
using nlohmann::json;

namespace {

using fedi::test::derivation;
using fedi::test::usage_message;

const char* kKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx ops";

json deployment() {
    return {{"providers",
             {{"pve",
               {{"type", "proxmox"},
                {"endpoint", "https://pve1:8006"},
                {"node", "pve1"},
                {"tokenFile", "/run/secrets/pve"}}}}},
            {"machines",
             {{"s3-1",
               {{"provision",
                 {{"provider", "pve"},
                  {"template", 9000},
                  {"cores", 2},
                  {"memory", 4096},
                  {"storage", "linstor"},
                  {"shared", true},
                  {"sshKeys", {kKey}},
                  {"disks", {{{"size", "200G"}, {"mount", "/var/lib/garage"}}}}}},
                {"system", derivation("s3-1")}}}}}};
}

const pve::PveMachineSettings& pve_settings(const model::Deployment& d, const std::string& m) {
    return dynamic_cast<const pve::PveMachineSettings&>(*d.machines.at(m).provision->settings);
}

// A clone of the test fixture's template as GET config returns it.
json template_config() {
    return {{"name", "s3-1"},
            {"agent", "1"},
            {"boot", "order=scsi0"},
            {"cores", 2},
            {"memory", "2048"},
            {"scsi0", "linstor:vm-101-disk-0,iothread=1,size=8G"},
            {"ide2", "linstor:vm-101-cloudinit,media=cdrom"},
            {"net0", "virtio=BC:24:11:00:90:00,bridge=vmbr0"},
            {"digest", "abc"}};
}

// What Proxmox does with a POST config (enough of it for planning).
void apply_config(json& config, const pve::Form& set) {
    for (const auto& [k, v] : set) {
        if (k.rfind("virtio", 0) == 0 && v.find(",serial=") != std::string::npos) {
            auto colon = v.find(':'), comma = v.find(',');
            config[k] = v.substr(0, colon) + ":vm-101-disk-1" + v.substr(comma) +
                        ",size=" + v.substr(colon + 1, comma - colon - 1) + "G";
        } else {
            config[k] = v;
        }
    }
}

} // namespace

TEST_CASE("provision parses into typed settings; ssh is optional then") {
    auto d = model::parse_deployment(deployment(), "/d/deployment.nix");
    REQUIRE(d.providers.at("pve").type == "proxmox");
    const auto& m = d.machines.at("s3-1");
    REQUIRE(m.provision);
    CHECK(m.provision->provider == "pve");
    CHECK(m.ssh.host.empty());
    CHECK(m.ssh_given.empty());
    const auto& s = pve_settings(d, "s3-1");
    CHECK(s.template_id == 9000);
    CHECK(s.name == "s3-1");
    CHECK(*s.memory == 4096);
    CHECK(s.shared);
    REQUIRE(s.disks.size() == 1);
    CHECK(s.disks[0].size_gib == 200);
    CHECK(s.disks[0].serial() == "fedi-data1");
    auto j = model::to_json(d);
    CHECK(j["machines"]["s3-1"]["provision"]["settings"]["memory"] == 4096);
    CHECK(j["providers"]["pve"]["tokenFile"] == "/run/secrets/pve");
}

TEST_CASE("provision errors name the attribute path") {
    auto j = deployment();
    auto& p = j["machines"]["s3-1"]["provision"];
    SECTION("unknown attribute") {
        p["colour"] = "blue";
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("machines.s3-1.provision.colour: unknown attribute"));
    }
    SECTION("dangling provider") {
        p["provider"] = "nope";
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("machines.s3-1.provision.provider: no provider named"));
    }
    SECTION("shared without storage") {
        p.erase("storage");
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.s3-1.provision.shared:"));
    }
    SECTION("bad disk size") {
        p["disks"][0]["size"] = "200GB";
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.s3-1.provision.disks.0.size:"));
    }
    SECTION("unknown provider type") {
        j["providers"]["pve"]["type"] = "vmware";
        CHECK_THAT(usage_message(j), Catch::StartsWith("providers.pve.type: unknown provider "
                                                       "type \"vmware\""));
    }
    SECTION("no token source") {
        j["providers"]["pve"].erase("tokenFile");
        CHECK_THAT(usage_message(j), Catch::StartsWith("providers.pve.tokenFile: missing"));
    }
    SECTION("plain http endpoint") {
        j["providers"]["pve"]["endpoint"] = "http://pve1:8006";
        CHECK_THAT(usage_message(j), Catch::StartsWith("providers.pve.endpoint:"));
    }
    SECTION("neither ssh nor provision") {
        j["machines"]["s3-1"].erase("provision");
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.s3-1.ssh: missing"));
    }
    SECTION("a VM name Proxmox refuses") {
        j["machines"]["s3_1"] = j["machines"]["s3-1"];
        j["machines"].erase("s3-1");
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.s3_1.provision.name:"));
    }
}

TEST_CASE("ssh attributes given beside provision win over outputs") {
    auto j = deployment();
    j["machines"]["s3-1"]["ssh"] = {{"port", 2222}};
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    const auto& m = d.machines.at("s3-1");
    CHECK(m.ssh_given == std::set<std::string>{"port"});
    CHECK(m.ssh.port == 2222);
}

TEST_CASE("records live under state's provisioned key and feed resources") {
    state::State st;
    st.extra["buckets"] = {{"media", {{"id", "b1"}}}}; // another module's key stays
    Record r;
    r.provider = "pve";
    r.type = "proxmox";
    r.id = "101";
    r.data = {{"vmid", 101}, {"node", "pve1"}};
    r.outputs.host = "10.0.0.5";
    r.outputs.host_keys = {"ssh-ed25519 AAAA"};
    r.outputs.extra = {{"vmid", 101}};
    r.complete = true;
    set_record(st, "s3-1", r);
    Record pending = r;
    pending.complete = false;
    set_record(st, "s3-2", pending);

    auto again = state::from_json(state::to_json(st), "state.json");
    auto recs = records(again);
    REQUIRE(recs.size() == 2);
    CHECK(recs.at("s3-1").outputs.host == "10.0.0.5");
    CHECK(recs.at("s3-1").data["node"] == "pve1");
    CHECK(again.extra["buckets"]["media"]["id"] == "b1");

    auto res = resources(again);
    CHECK(res["machines"]["s3-1"]["host"] == "10.0.0.5");
    CHECK(res["machines"]["s3-1"]["hostKey"] == "ssh-ed25519 AAAA");
    CHECK(res["machines"]["s3-1"]["vmid"] == 101);
    CHECK_FALSE(res["machines"].contains("s3-2")); // not complete: no outputs yet

    erase_record(again, "s3-1");
    CHECK_FALSE(find_record(again, "s3-1"));
}

TEST_CASE("sizes and property strings") {
    CHECK(pve::parse_gib("200G") == 200);
    CHECK(pve::parse_gib("1T") == 1024);
    CHECK(pve::parse_gib("2048M") == 2);
    CHECK_FALSE(pve::parse_gib("99999999999999999999999G")); // no exception: not a size
    CHECK_FALSE(pve::parse_gib("9999999999999T"));
    CHECK_FALSE(pve::parse_gib("1500M"));
    CHECK_FALSE(pve::parse_gib("200"));
    CHECK(pve::drive_size_bytes("linstor:vm-1-disk-0,size=8G") == (std::int64_t(8) << 30));
    CHECK(pve::drive_size_bytes("linstor:vm-1-disk-0,size=512M") == (std::int64_t(512) << 20));
    CHECK(pve::memory_mib("current=4096") == 4096);
    CHECK(pve::memory_mib("2048") == 2048);
    CHECK_FALSE(pve::memory_mib("99999999999999999999")); // no exception from a remote answer
    CHECK(pve::drive_size_bytes(
              fmt::format("linstor:vm-1-disk-0,size={}G", std::string(400, '9'))) == 0);
    CHECK(pve::boot_disk({{"boot", "order=ide2;scsi0;net0"},
                          {"ide2", "none,media=cdrom"},
                          {"scsi0", "x:y,size=1G"}}) == std::string("scsi0"));
}

TEST_CASE("planning a fresh clone, then nothing is left to do") {
    auto d = model::parse_deployment(deployment(), "/d/deployment.nix");
    const auto& s = pve_settings(d, "s3-1");
    auto config = template_config();
    auto plan = pve::plan_vm(s, config);
    std::map<std::string, std::string> set(plan.set.begin(), plan.set.end());
    CHECK(set.count("cores") == 0); // already 2
    CHECK(set.at("memory") == "4096");
    CHECK(set.at("sshkeys") == pve::encode_sshkeys({kKey}));
    CHECK(set.at("virtio1") == "linstor:200,serial=fedi-data1");
    CHECK(set.count("agent") == 0);
    CHECK(plan.plan.fixed.empty());

    apply_config(config, plan.set);
    auto again = pve::plan_vm(s, config);
    CHECK(again.empty());
    CHECK(again.plan.changes.empty());
}

TEST_CASE("drift: what changes in place and what cannot") {
    auto j = deployment();
    auto& p = j["machines"]["s3-1"]["provision"];
    p["diskSize"] = "16G";
    auto config = template_config();
    config["sshkeys"] = pve::encode_sshkeys({kKey});
    config["memory"] = "4096";
    config["virtio1"] = "linstor:vm-101-disk-1,serial=fedi-data1,size=300G";
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    auto plan = pve::plan_vm(pve_settings(d, "s3-1"), config);
    // The boot disk grows in place; the data disk would have to shrink: refused.
    REQUIRE(plan.resize.size() == 1);
    CHECK(plan.resize[0] == std::make_pair(std::string("scsi0"), std::string("16G")));
    CHECK(plan.set.empty());
    REQUIRE(plan.plan.fixed.size() == 1);
    CHECK(plan.plan.fixed[0].what == "disk data1");

    SECTION("a disk on another storage cannot move in place") {
        config["virtio1"] = "local-lvm:vm-101-disk-1,serial=fedi-data1,size=200G";
        auto moved = pve::plan_vm(pve_settings(d, "s3-1"), config);
        REQUIRE(moved.plan.fixed.size() == 1);
        CHECK(moved.plan.fixed[0].what == "disk data1 storage");
    }
    SECTION("the guest agent is switched on") {
        config["agent"] = "enabled=0";
        auto on = pve::plan_vm(pve_settings(d, "s3-1"), config);
        CHECK(std::count(on.set.begin(), on.set.end(),
                         std::make_pair(std::string("agent"), std::string("1"))) == 1);
    }
}
