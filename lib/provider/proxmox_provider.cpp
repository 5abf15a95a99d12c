// The proxmox provider's actions: check the target, clone, configure, start, learn the
// address and host key through the guest agent, converge, destroy.
#include "provider/proxmox_provider.hpp"

#include "provider/proxmox_api.hpp"
#include "provider/reach.hpp"
#include "state/state.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sstream>
#include <thread>

namespace fedi::provider::pve {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Marks a VM as fedi's (in its description): only such a VM is adopted without a record.
std::string mark(const std::string& machine) {
    return "fedi: machine " + machine;
}

const PveMachineSettings& machine_settings(const Request& req) {
    return settings_as<PveMachineSettings>(req, "a proxmox provider");
}

std::string list_names(const std::vector<StorageInfo>& storages) {
    std::string out;
    for (const auto& s : storages)
        out += (out.empty() ? "" : ", ") + s.storage;
    return out.empty() ? "none" : out;
}

class PveProvider : public Provider {
  public:
    PveProvider(const PveProviderSettings& cfg, Context ctx) : cfg_(cfg), ctx_(std::move(ctx)) {}

    std::optional<Record> read(const Request& req, const std::optional<Record>& rec) override {
        const auto& s = machine_settings(req);
        auto& api = client();
        if (rec) {
            auto vmid = rec->data.value("vmid", 0);
            auto vm = api.find_vm(vmid);
            if (!vm)
                return std::nullopt;
            auto name = rec->data.value("name", "");
            if (vm->name != name)
                throw Error(fmt::format(
                    "state says machine {} is Proxmox VM {} named '{}', but VM {} is named '{}' "
                    "now: it is not the VM fedi created; remove the state entry with `fedi "
                    "provision --destroy {}` after checking, or rename the VM back",
                    req.machine, vmid, name, vmid, vm->name, req.machine));
            auto out = *rec;
            out.data["node"] = vm->node;
            return out;
        }
        auto vm = api.find_vm_by_name(s.name);
        if (!vm)
            return std::nullopt;
        auto description = json_string(api.get_config(vm->ref()).value("description", json()));
        if (description.find(mark(req.machine)) == std::string::npos)
            throw Error(fmt::format("a Proxmox VM named '{}' exists (VMID {} on {}) that fedi did "
                                    "not create for machine {}; set provision.name to another "
                                    "name or remove that VM",
                                    s.name, vm->vmid, vm->node, req.machine));
        ctx_.info(fmt::format("found VM {} ('{}') from an earlier run that was not recorded; "
                              "adopting it",
                              vm->vmid, s.name));
        return new_record(s, vm->ref());
    }

    Plan diff(const Request& req, const Record& rec) override {
        const auto& s = machine_settings(req);
        auto& api = client();
        auto vm = ref(rec);
        auto plan = plan_vm(s, api.get_config(vm)).plan;
        auto tmpl = rec.data.value("template", 0);
        if (tmpl != 0 && tmpl != s.template_id)
            plan.fixed.push_back({"template", std::to_string(tmpl), std::to_string(s.template_id)});
        auto node = s.node_or(cfg_.node);
        if (vm.node != node)
            plan.fixed.push_back({"node", vm.node, node + " (migrate it by hand)"});
        if (rec.data.contains("full") && rec.data.value("full", true) != s.full)
            plan.fixed.push_back({"clone", rec.data.value("full", true) ? "full" : "linked",
                                  s.full ? "full" : "linked"});
        if (!api.status_current(vm).running())
            plan.changes.push_back({"power", "stopped", "running"});
        return plan;
    }

    Record create(const Request& req) override {
        const auto& s = machine_settings(req);
        auto& api = client();
        auto node = s.node_or(cfg_.node);
        // Everything that can be checked is checked before anything is created.
        auto nodes = api.nodes();
        if (std::none_of(nodes.begin(), nodes.end(),
                         [&](const NodeInfo& n) { return n.node == node; }))
            throw Error(fmt::format("Proxmox has no node '{}'", node));
        if (s.storage) {
            auto storages = api.storages(node);
            auto it = std::find_if(storages.begin(), storages.end(),
                                   [&](const StorageInfo& i) { return i.storage == *s.storage; });
            if (it == storages.end())
                throw Error(fmt::format("storage '{}' does not exist on node {} (it has: {})",
                                        *s.storage, node, list_names(storages)));
            if (!it->enabled)
                throw Error(fmt::format("storage '{}' is disabled on node {}", *s.storage, node));
            if (!it->holds("images"))
                throw Error(fmt::format("storage '{}' on node {} does not hold VM disks "
                                        "(content: {})",
                                        *s.storage, node, fmt::join(it->content, ",")));
            if (s.shared && !it->shared)
                throw Error(fmt::format("storage '{}' on node {} is not shared, but provision."
                                        "shared = true asks for shared storage; nothing was "
                                        "created",
                                        *s.storage, node));
        }
        auto tmpl = api.find_vm(s.template_id);
        if (!tmpl)
            throw Error(fmt::format("template VM {} does not exist", s.template_id));
        if (!s.full && !tmpl->is_template)
            throw Error(fmt::format("VM {} is not a template; linked clones need one (set "
                                    "full = true)",
                                    s.template_id));

        CloneRequest clone;
        clone.template_vmid = s.template_id;
        clone.name = s.name;
        clone.newid = s.vmid;
        clone.full = s.full;
        if (s.full && s.storage)
            clone.storage = s.storage;
        clone.source_node = tmpl->node;
        if (node != tmpl->node)
            clone.target_node = node;
        clone.description = fmt::format("{} of {}", mark(req.machine), req.deployment_file);
        ctx_.info(
            fmt::format("cloning template {} to a new VM '{}' on {}", s.template_id, s.name, node));
        auto result = api.clone(clone, [&](const std::string& line) { ctx_.detail("| " + line); });
        auto rec = new_record(s, result.vm);
        ctx_.save(rec); // from here on a rerun finds this VM rather than cloning another
        ctx_.info(fmt::format("VM {} created", result.vm.vmid));
        return converge(req, rec);
    }

    Record update(const Request& req, const Record& rec, const Plan&) override {
        return converge(req, rec);
    }

    void destroy(const Record& rec) override {
        auto& api = client();
        auto vmid = rec.data.value("vmid", 0);
        auto vm = api.find_vm(vmid);
        if (!vm) {
            ctx_.info(fmt::format("VM {} is already gone", vmid));
            return;
        }
        if (vm->name != rec.data.value("name", ""))
            throw Error(fmt::format("VM {} is named '{}', not '{}' as recorded: refusing to "
                                    "destroy a VM fedi did not create",
                                    vmid, vm->name, rec.data.value("name", "")));
        if (api.status_current(vm->ref()).running()) {
            ctx_.info(fmt::format("stopping VM {}", vmid));
            api.stop(vm->ref());
        }
        ctx_.info(fmt::format("destroying VM {}", vmid));
        api.destroy(vm->ref());
    }

    std::string describe(const Record& rec) const override {
        return fmt::format("Proxmox VM {} ('{}') on {}", rec.id, rec.data.value("name", ""),
                           rec.data.value("node", ""));
    }

  private:
    PveClient& client() {
        if (!client_) {
            PveConfig c;
            c.endpoint = cfg_.endpoint;
            c.node = cfg_.node;
            c.token = read_token(cfg_.token_file, cfg_.token_env);
            c.token_source = describe_token_source(cfg_.token_file, cfg_.token_env);
            c.ca_file = cfg_.ca_file;
            c.fingerprint = cfg_.fingerprint;
            c.insecure = cfg_.insecure;
            c.retry.attempts = cfg_.retry_attempts;
            c.retry.backoff = Millis(cfg_.retry_backoff_ms);
            c.retry.max_backoff = std::max(c.retry.backoff, Millis(16'000));
            c.on_notice = ctx_.info;
            client_ = std::make_unique<PveClient>(std::move(c));
        }
        return *client_;
    }

    VmRef ref(const Record& rec) const {
        return {rec.data.value("node", cfg_.node), rec.data.value("vmid", 0)};
    }

    static Record new_record(const PveMachineSettings& s, const VmRef& vm) {
        Record rec;
        rec.type = "proxmox";
        rec.id = std::to_string(vm.vmid);
        rec.data = {{"vmid", vm.vmid},
                    {"node", vm.node},
                    {"name", s.name},
                    {"template", s.template_id},
                    {"full", s.full}};
        if (s.storage)
            rec.data["storage"] = *s.storage;
        rec.created = state::now_utc();
        return rec;
    }

    // Brings the VM to the settings, starts it and learns its outputs.
    Record converge(const Request& req, Record rec) {
        const auto& s = machine_settings(req);
        auto& api = client();
        auto vm = ref(rec);
        auto config = api.get_config(vm);
        auto plan = plan_vm(s, config);
        if (!plan.set.empty()) {
            for (const auto& c : plan.plan.changes)
                ctx_.info("set " + c.describe());
            ConfigOptions options;
            if (config.contains("digest"))
                options.digest = json_string(config["digest"]);
            api.set_config(vm, plan.set, options);
        }
        for (const auto& [disk, size] : plan.resize) {
            ctx_.info(fmt::format("growing disk {} to {}", disk, size));
            api.resize(vm, disk, size);
        }
        if (!api.status_current(vm).running()) {
            ctx_.info(fmt::format("starting VM {}", vm.vmid));
            api.start(vm);
        }
        rec.outputs = learn_outputs(req, s, vm);
        rec.complete = true;
        rec.protect = req.protect;
        return rec;
    }

    Outputs learn_outputs(const Request& req, const PveMachineSettings& s, const VmRef& vm) {
        auto& api = client();
        auto timeout = std::chrono::seconds(cfg_.boot_timeout);
        auto deadline = Clock::now() + timeout;
        auto left = [&] {
            return std::max(Millis(1), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
        };
        api.wait_for_agent(vm, left());
        Outputs out;
        for (bool told = false;;) {
            if (auto address = api.guest_address(vm)) {
                out.host = *address;
                break;
            }
            if (Clock::now() >= deadline)
                throw Error(fmt::format("the guest agent of VM {} reported no address within "
                                        "{} s",
                                        vm.vmid, cfg_.boot_timeout));
            if (!told)
                ctx_.info(fmt::format("VM {}: waiting for an address", vm.vmid));
            told = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        // The host keys come through the guest agent, over the authenticated API: no
        // key is trusted on first sight of the network.
        for (const char* type : {"ed25519", "ecdsa", "rsa"}) {
            try {
                auto file =
                    api.agent_file_read(vm, fmt::format("/etc/ssh/ssh_host_{}_key.pub", type));
                std::istringstream in(file.content);
                std::string kind, blob;
                if (in >> kind >> blob)
                    out.host_keys.push_back(kind + " " + blob);
            } catch (const ApiError& e) {
                if (e.cause() != ApiError::Cause::Reply)
                    throw;
            }
        }
        if (out.host_keys.empty())
            ctx_.info(fmt::format("VM {}: the guest agent could not read any SSH host key; "
                                  "deploying will need ssh.hostKey or --accept-new-host-keys",
                                  vm.vmid));
        out.port = req.ssh_port.value_or(22);
        out.user = s.user.value_or("root");
        ctx_.info(fmt::format("VM {}: address {}; waiting for SSH on port {}", vm.vmid, out.host,
                              out.port));
        wait_for_ssh(out.host, out.port, left());
        json disks = json::array();
        for (const auto& d : s.disks) {
            json dj = {{"name", d.name},
                       {"serial", d.serial()},
                       {"device", "/dev/disk/by-id/virtio-" + d.serial()},
                       {"size", fmt::format("{}G", d.size_gib)},
                       {"fsType", d.fs_type}};
            dj["mount"] = d.mount ? json(*d.mount) : json();
            disks.push_back(dj);
        }
        out.extra = {{"vmid", vm.vmid}, {"node", vm.node}, {"name", s.name}, {"disks", disks}};
        return out;
    }

    PveProviderSettings cfg_;
    Context ctx_;
    std::unique_ptr<PveClient> client_;
};

} // namespace

ProviderType proxmox_type() {
    ProviderType t;
    t.name = "proxmox";
    t.summary = "VMs cloned from a template on Proxmox VE";
    t.parse_provider = parse_provider_settings;
    t.parse_machine = parse_machine_settings;
    t.make = [](const ProviderSettings& s, const Context& ctx) -> std::unique_ptr<Provider> {
        return std::make_unique<PveProvider>(dynamic_cast<const PveProviderSettings&>(s), ctx);
    };
    return t;
}

} // namespace fedi::provider::pve
