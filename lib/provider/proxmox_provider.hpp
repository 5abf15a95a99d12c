#pragma once
// The `proxmox` provider: VMs cloned from a template on a Proxmox VE cluster. Settings
// and the pure planning (what to change in a VM's config) are here so that they can be
// unit-tested; the actions are in proxmox_provider.cpp.
#include "provider/provider.hpp"
#include "provider/proxmox_format.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fedi::provider::pve {

// providers.<name> = { type = "proxmox"; ... }
struct PveProviderSettings : ProviderSettings {
    std::string endpoint;
    std::string node;
    std::optional<std::string> token_file; // tokenFile
    std::optional<std::string> token_env;  // tokenEnv: an environment variable's name
    std::optional<std::string> ca_file;
    std::optional<std::string> fingerprint;
    bool insecure = false;
    int retry_attempts = 6;
    int retry_backoff_ms = 1000;
    int boot_timeout = 300; // seconds: start until the agent reports an address and SSH answers
    nlohmann::json to_json() const override;
    std::vector<std::pair<std::string, std::string>> warnings() const override;
};

// A data disk: its serial lets the guest find it (/dev/disk/by-id/virtio-<serial>).
struct DataDisk {
    std::string name;                 // data1, ...
    std::int64_t size_gib = 0;        // "200G" -> 200
    std::optional<std::string> mount; // where resources/data-disks.nix mounts it
    std::string fs_type = "ext4";
    std::string serial() const { return "fedi-" + name; }
};

// machines.<name>.provision = { provider = "..."; ... }
struct PveMachineSettings : MachineSettings {
    int template_id = 0;
    std::optional<std::string> node; // default: the provider's node
    std::string name;                // the VM's name (default: the machine's)
    std::optional<int> vmid;         // a fixed VMID (default: /cluster/nextid)
    bool full = true;                // full clone, else linked
    std::optional<std::string> storage;
    bool shared = false; // refuse storage that is not shared
    std::optional<int> cores;
    std::optional<int> sockets;
    std::optional<int> memory; // MiB
    std::vector<std::string> ssh_keys;
    std::optional<std::string> user;      // cloud-init user (ciuser); outputs' user
    std::optional<std::string> ip_config; // ipconfig0, e.g. "ip=dhcp"
    std::optional<std::string> bridge;    // net0's bridge
    std::optional<std::int64_t> disk_gib; // the boot disk's size (grown only)
    std::vector<DataDisk> disks;
    nlohmann::json to_json() const override;
    std::string node_or(const std::string& fallback) const { return node.value_or(fallback); }
};

std::shared_ptr<const ProviderSettings> parse_provider_settings(model::AttrSet& a);
std::shared_ptr<const MachineSettings> parse_machine_settings(model::AttrSet& a,
                                                              const ProviderSettings& provider,
                                                              const std::string& machine);

// "200G" / "1T" / "512M" (a whole number of GiB) -> GiB; nullopt when malformed.
std::optional<std::int64_t> parse_gib(const std::string& size);
// A drive's size option ("size=8G") in bytes; 0 when absent.
std::int64_t drive_size_bytes(const std::string& drive);
// The value of one key in a property string ("virtio=..,bridge=vmbr0", "bridge").
std::optional<std::string> property(const std::string& value, const std::string& key);
// Memory in MiB from a config's memory option ("2048" or "current=2048").
std::optional<int> memory_mib(const std::string& value);

// The config changes that bring a VM's config (GET config) to the settings, and what
// cannot change in place. `storage`: where new disks go (settings.storage, else the boot
// disk's storage).
struct VmPlan {
    Form set;                                                // POST config
    std::vector<std::pair<std::string, std::string>> resize; // disk, "NG"
    Plan plan;                                               // for the report
    bool empty() const { return set.empty() && resize.empty(); }
};
VmPlan plan_vm(const PveMachineSettings& s, const nlohmann::json& config);

// The boot disk's key in a config (scsi0, virtio0, ...): the first disk of `boot`'s order
// that is not a CD-ROM, else the first of scsi0/virtio0/sata0/ide0.
std::optional<std::string> boot_disk(const nlohmann::json& config);

// The data disk with this serial in a config: its key (virtio1) and value.
std::optional<std::pair<std::string, std::string>> find_serial(const nlohmann::json& config,
                                                               const std::string& serial);

ProviderType proxmox_type();

} // namespace fedi::provider::pve
