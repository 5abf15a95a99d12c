// The proxmox provider's settings (parsed from the deployment) and its planning: which
// config options to change so that a VM matches them. No network here.
#include "core/text.hpp"
#include "provider/proxmox_provider.hpp"
#include "provider/proxmox_tls.hpp"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <regex>
#include <set>
#include <sstream>

namespace fedi::provider::pve {

namespace {

using nlohmann::json;

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string item; std::getline(in, item, sep);)
        out.push_back(item);
    return out;
}

std::string opt(const json& config, const std::string& key) {
    auto it = config.find(key);
    return it == config.end() ? std::string() : json_string(*it);
}

std::string storage_of(const std::string& drive) {
    auto file = split(drive, ',').empty() ? drive : split(drive, ',').front();
    auto colon = file.find(':');
    return colon == std::string::npos ? std::string() : file.substr(0, colon);
}

bool is_cdrom(const std::string& drive) {
    return drive.find("media=cdrom") != std::string::npos ||
           drive.find("cloudinit") != std::string::npos || drive.rfind("none", 0) == 0 ||
           drive.rfind("cdrom", 0) == 0;
}

std::string gib(std::int64_t bytes) {
    if (bytes % (std::int64_t(1) << 30) == 0)
        return fmt::format("{}G", bytes >> 30);
    return fmt::format("{:.1f}G", static_cast<double>(bytes) / (1 << 30));
}

bool agent_enabled(const std::string& value) {
    if (value.empty())
        return false;
    auto first = split(value, ',').front();
    if (first.find('=') == std::string::npos)
        return first == "1";
    return property(value, "enabled").value_or("0") == "1";
}

// net0 with its bridge replaced. Built by appending, not `"," + temporary`: GCC 12's -O2
// inlining of operator+(const char*, string&&) trips a false -Wrestrict (GCC bug 105651).
std::string with_bridge(const std::string& net, const std::string& bridge) {
    std::string out;
    bool done = false;
    auto append = [&out](const std::string& part) {
        if (!out.empty())
            out += ',';
        out += part;
    };
    for (const auto& part : split(net, ',')) {
        if (part.rfind("bridge=", 0) == 0) {
            append("bridge=" + bridge);
            done = true;
        } else {
            append(part);
        }
    }
    if (!done)
        append("bridge=" + bridge);
    return out;
}

const std::regex& dns_name() {
    static const std::regex re(
        R"(^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$)");
    return re;
}

} // namespace

std::optional<std::int64_t> parse_gib(const std::string& size) {
    static const std::regex re(R"(^([0-9]+)([MGT])$)");
    std::smatch m;
    if (!std::regex_match(size, m, re))
        return std::nullopt;
    // At most 2^40 (an exabyte in GiB): a longer number is not a size, and stoll would
    // throw on it (found by a 30-second fuzz_deployment run in CI).
    const std::string digits = m[1];
    std::int64_t n = 0;
    auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (parsed.ec != std::errc() || n > (std::int64_t{1} << 40))
        return std::nullopt;
    switch (m[2].str()[0]) {
    case 'T':
        return n * 1024;
    case 'G':
        return n;
    default: // M: only whole GiB
        if (n % 1024 != 0)
            return std::nullopt;
        return n / 1024;
    }
}

std::optional<std::string> property(const std::string& value, const std::string& key) {
    for (const auto& part : split(value, ',')) {
        auto eq = part.find('=');
        if (eq != std::string::npos && part.substr(0, eq) == key)
            return part.substr(eq + 1);
    }
    return std::nullopt;
}

std::int64_t drive_size_bytes(const std::string& drive) {
    auto size = property(drive, "size");
    if (!size || size->empty())
        return 0;
    // At most 15 digits: a longer number is no disk size (and stod would throw on it).
    static const std::regex re(R"(^([0-9]{1,15}(?:\.[0-9]{1,15})?)([KMGT]?)$)");
    std::smatch m;
    if (!std::regex_match(*size, m, re))
        return 0;
    double n = std::stod(m[1]);
    int shift = 0;
    switch (m[2].str().empty() ? 'B' : m[2].str()[0]) {
    case 'K':
        shift = 10;
        break;
    case 'M':
        shift = 20;
        break;
    case 'G':
        shift = 30;
        break;
    case 'T':
        shift = 40;
        break;
    default:
        break;
    }
    return static_cast<std::int64_t>(n * static_cast<double>(std::int64_t(1) << shift));
}

std::optional<int> memory_mib(const std::string& value) {
    static const std::regex re(R"((?:^|current=)([0-9]+))");
    std::smatch m;
    if (!std::regex_search(value, m, re))
        return std::nullopt;
    const std::string digits = m[1];
    int mib = 0;
    auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), mib);
    if (parsed.ec != std::errc())
        return std::nullopt; // more than an int holds: not a memory size
    return mib;
}

std::optional<std::string> boot_disk(const json& config) {
    auto order = property(opt(config, "boot"), "order");
    if (order)
        for (const auto& key : split(*order, ';'))
            if (config.contains(key) && !is_cdrom(opt(config, key)) && key.rfind("net", 0) != 0)
                return key;
    for (const char* key : {"scsi0", "virtio0", "sata0", "ide0"})
        if (config.contains(key) && !is_cdrom(opt(config, key)))
            return std::string(key);
    return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> find_serial(const json& config,
                                                               const std::string& serial) {
    static const std::regex disk_key(R"(^(ide|sata|scsi|virtio)[0-9]+$)");
    for (const auto& [key, value] : config.items())
        if (std::regex_match(key, disk_key)) {
            auto v = json_string(value);
            if (property(v, "serial") == serial)
                return std::make_pair(key, v);
        }
    return std::nullopt;
}

namespace {

// Builds a VmPlan one step at a time; each step compares one group of settings with the
// VM's current config. The steps run in the order the plan is shown and applied.
class VmPlanner {
  public:
    VmPlanner(const PveMachineSettings& s, const json& config)
        : s_(s), config_(config), boot_(boot_disk(config)),
          boot_value_(boot_ ? opt(config, *boot_) : "") {
        disk_storage_ = s.storage.value_or(storage_of(boot_value_));
        for (const auto& [key, value] : config.items())
            used_.insert(key);
    }

    VmPlan plan() {
        plan_name_and_counts();
        plan_cloud_init();
        plan_bridge();
        add_cloud_init_drive();
        plan_boot_disk();
        for (const auto& d : s_.disks)
            plan_data_disk(d);
        return std::move(p_);
    }

  private:
    void change(const std::string& key, const std::string& value, const std::string& what,
                const std::string& from, const std::string& to) {
        p_.set.emplace_back(key, value);
        p_.plan.changes.push_back({what, from, to});
    }

    void plan_count(const std::string& key, const std::optional<int>& want) {
        if (!want)
            return;
        auto now = json_int(config_.value(key, json()), 1);
        if (now != *want)
            change(key, std::to_string(*want), key, std::to_string(now), std::to_string(*want));
    }

    void plan_name_and_counts() {
        if (opt(config_, "name") != s_.name)
            change("name", s_.name, "name", opt(config_, "name"), s_.name);
        plan_count("cores", s_.cores);
        plan_count("sockets", s_.sockets);
        if (s_.memory) {
            auto now = memory_mib(opt(config_, "memory")).value_or(512);
            if (now != *s_.memory)
                change("memory", std::to_string(*s_.memory), "memory", fmt::format("{} MiB", now),
                       fmt::format("{} MiB", *s_.memory));
        }
        // The address comes from the guest agent: it must be on.
        if (!agent_enabled(opt(config_, "agent")))
            change("agent", "1", "guest agent", "off", "on");
    }

    void plan_option(const std::string& key, const std::optional<std::string>& want,
                     const std::string& what) {
        if (want && opt(config_, key) != *want)
            change(key, *want, what, opt(config_, key), *want);
    }

    void plan_cloud_init() {
        if (!s_.ssh_keys.empty()) {
            std::vector<std::string> want;
            for (const auto& k : s_.ssh_keys)
                if (auto key = trim(k); !key.empty())
                    want.push_back(key);
            auto now = decode_sshkeys(opt(config_, "sshkeys"));
            if (now != want)
                change("sshkeys", encode_sshkeys(want), "ssh keys",
                       fmt::format("{} key(s)", now.size()), fmt::format("{} key(s)", want.size()));
        }
        plan_option("ciuser", s_.user, "cloud-init user");
        plan_option("ipconfig0", s_.ip_config, "ip config");
    }

    void plan_bridge() {
        if (!s_.bridge)
            return;
        auto net = opt(config_, "net0");
        auto now = property(net, "bridge").value_or("");
        if (now != *s_.bridge)
            change("net0", with_bridge(net.empty() ? "virtio" : net, *s_.bridge), "bridge", now,
                   *s_.bridge);
    }

    bool has_cloud_init_drive() const {
        for (const auto& [key, value] : config_.items())
            if (json_string(value).find("cloudinit") != std::string::npos)
                return true;
        return false;
    }

    void add_cloud_init_drive() {
        bool wanted = !s_.ssh_keys.empty() || s_.user || s_.ip_config;
        if (!wanted || has_cloud_init_drive() || disk_storage_.empty())
            return;
        for (const char* key : {"ide2", "ide0", "ide1", "ide3", "sata5"})
            if (!used_.count(key)) {
                change(key, disk_storage_ + ":cloudinit", "cloud-init drive", "",
                       fmt::format("{} on {}", key, disk_storage_));
                used_.insert(key);
                return;
            }
    }

    // Grows the disk `key` to `want_gib`; a disk larger than that is reported, not shrunk.
    void plan_size(const std::string& key, const std::string& what, std::int64_t now,
                   std::int64_t want_gib) {
        auto want = want_gib << 30;
        if (now < want) {
            p_.resize.emplace_back(key, fmt::format("{}G", want_gib));
            p_.plan.changes.push_back({what, gib(now), gib(want)});
        } else if (now > want) {
            p_.plan.fixed.push_back({what, gib(now), gib(want) + " (disks cannot shrink)"});
        }
    }

    void plan_boot_disk() {
        if (!boot_)
            return;
        if (s_.full && s_.storage && storage_of(boot_value_) != *s_.storage)
            p_.plan.fixed.push_back({"boot disk storage", storage_of(boot_value_), *s_.storage});
        if (s_.disk_gib)
            plan_size(*boot_, "disk " + *boot_, drive_size_bytes(boot_value_), *s_.disk_gib);
    }

    std::string free_virtio_slot() const {
        for (int n = 1; n < 16; ++n)
            if (!used_.count("virtio" + std::to_string(n)))
                return "virtio" + std::to_string(n);
        return {};
    }

    void add_data_disk(const DataDisk& d) {
        auto key = free_virtio_slot();
        if (key.empty()) {
            p_.plan.fixed.push_back({"disk " + d.name, "", "no free virtio slot"});
            return;
        }
        used_.insert(key);
        change(key, fmt::format("{}:{},serial={}", disk_storage_, d.size_gib, d.serial()),
               "disk " + d.name, "", fmt::format("{}G on {} ({})", d.size_gib, disk_storage_, key));
    }

    void plan_data_disk(const DataDisk& d) {
        auto found = find_serial(config_, d.serial());
        if (!found) {
            add_data_disk(d);
            return;
        }
        const auto& [key, drive] = *found;
        plan_size(key, "disk " + d.name, drive_size_bytes(drive), d.size_gib);
        if (s_.storage && storage_of(drive) != *s_.storage)
            p_.plan.fixed.push_back({"disk " + d.name + " storage", storage_of(drive),
                                     *s_.storage + " (move the disk by hand)"});
    }

    const PveMachineSettings& s_;
    const json& config_;
    std::optional<std::string> boot_;
    std::string boot_value_;
    std::string disk_storage_;
    std::set<std::string> used_;
    VmPlan p_;
};

} // namespace

VmPlan plan_vm(const PveMachineSettings& s, const json& config) {
    return VmPlanner(s, config).plan();
}

// ---- settings ----

nlohmann::json PveProviderSettings::to_json() const {
    json j = {{"type", "proxmox"},
              {"endpoint", endpoint},
              {"node", node},
              {"insecure", insecure},
              {"retryAttempts", retry_attempts},
              {"retryBackoffMs", retry_backoff_ms},
              {"bootTimeout", boot_timeout}};
    j["tokenFile"] = token_file ? json(*token_file) : json();
    j["tokenEnv"] = token_env ? json(*token_env) : json();
    j["caFile"] = ca_file ? json(*ca_file) : json();
    j["fingerprint"] = fingerprint ? json(*fingerprint) : json();
    return j;
}

std::vector<std::pair<std::string, std::string>> PveProviderSettings::warnings() const {
    if (!insecure)
        return {};
    return {{"insecure", fmt::format("TLS certificate checks are off for {}: whoever can "
                                     "intercept the connection can read the API token; pin "
                                     "the certificate with caFile or fingerprint instead",
                                     endpoint)}};
}

nlohmann::json PveMachineSettings::to_json() const {
    auto o = [](const auto& v) { return v ? json(*v) : json(); };
    json disks_j = json::array();
    for (const auto& d : disks)
        disks_j.push_back({{"name", d.name},
                           {"size", fmt::format("{}G", d.size_gib)},
                           {"serial", d.serial()},
                           {"mount", o(d.mount)},
                           {"fsType", d.fs_type}});
    return {{"template", template_id},
            {"node", o(node)},
            {"name", name},
            {"vmid", o(vmid)},
            {"full", full},
            {"storage", o(storage)},
            {"shared", shared},
            {"cores", o(cores)},
            {"sockets", o(sockets)},
            {"memory", o(memory)},
            {"sshKeys", ssh_keys},
            {"user", o(user)},
            {"ipConfig", o(ip_config)},
            {"bridge", o(bridge)},
            {"diskSize", disk_gib ? json(fmt::format("{}G", *disk_gib)) : json()},
            {"disks", disks_j}};
}

std::shared_ptr<const ProviderSettings> parse_provider_settings(model::AttrSet& a) {
    auto s = std::make_shared<PveProviderSettings>();
    s->endpoint = a.required_string("endpoint");
    try {
        api_base_url(s->endpoint);
    } catch (const Error& e) {
        a.fail("endpoint", e.message());
    }
    s->node = a.required_string("node");
    s->token_file = a.optional_file("tokenFile");
    s->token_env = a.optional_string("tokenEnv");
    if (!s->token_file && !s->token_env)
        a.fail("tokenFile", "missing: give tokenFile (a file holding USER@REALM!TOKENID=SECRET) "
                            "or tokenEnv (the name of an environment variable holding it)");
    s->ca_file = a.optional_file("caFile");
    s->fingerprint = a.optional_string("fingerprint");
    if (s->fingerprint) {
        try {
            normalise_fingerprint(*s->fingerprint);
        } catch (const Error& e) {
            a.fail("fingerprint", e.message());
        }
    }
    s->insecure = a.optional_bool("insecure").value_or(false);
    s->retry_attempts = static_cast<int>(a.optional_int("retryAttempts", 1, 100).value_or(6));
    s->retry_backoff_ms =
        static_cast<int>(a.optional_int("retryBackoffMs", 0, 600000).value_or(1000));
    s->boot_timeout = static_cast<int>(a.optional_int("bootTimeout", 1, 86400).value_or(300));
    a.finish();
    return s;
}

namespace {

void check_vm_name(model::AttrSet& a, const std::string& name) {
    if (name.size() > 63 || !std::regex_match(name, dns_name()))
        a.fail("name", fmt::format("\"{}\" is not a valid Proxmox VM name (a DNS name: letters, "
                                   "digits, '-' and '.'); set provision.name",
                                   name));
}

std::vector<std::string> parse_ssh_keys(model::AttrSet& a) {
    auto keys = a.string_list("sshKeys");
    static const std::regex key_re(R"(^\s*[a-z0-9@.-]+ [A-Za-z0-9+/]+=*( .*)?\s*$)");
    for (std::size_t i = 0; i < keys.size(); ++i)
        if (!std::regex_match(keys[i], key_re))
            a.fail(fmt::format("sshKeys.{}", i),
                   "expected an OpenSSH public key such as \"ssh-ed25519 AAAA... comment\"");
    return keys;
}

// The `n`th entry (from 0) of `disks`; `names` holds the names seen so far.
DataDisk parse_data_disk(model::AttrSet& d, std::size_t n, std::set<std::string>& names) {
    DataDisk disk;
    disk.name = d.optional_string("name").value_or(fmt::format("data{}", n + 1));
    static const std::regex name_re("^[a-z0-9][a-z0-9-]{0,14}$");
    if (!std::regex_match(disk.name, name_re))
        d.fail("name", "expected 1-15 characters a-z, 0-9 and '-' (it becomes the "
                       "disk's serial fedi-<name>)");
    if (!names.insert(disk.name).second)
        d.fail("name", fmt::format("two disks are named \"{}\"", disk.name));
    auto size = parse_gib(d.required_string("size"));
    if (!size || *size <= 0)
        d.fail("size", "expected a size in whole GiB such as \"200G\" or \"1T\"");
    disk.size_gib = *size;
    disk.mount = d.optional_string("mount");
    if (disk.mount && (disk.mount->empty() || disk.mount->front() != '/'))
        d.fail("mount", "expected an absolute path");
    disk.fs_type = d.optional_string("fsType").value_or("ext4");
    d.finish();
    return disk;
}

std::vector<DataDisk> parse_data_disks(model::AttrSet& a) {
    std::vector<DataDisk> out;
    const auto* disks = a.get("disks");
    if (!disks || disks->is_null())
        return out;
    if (!disks->is_array())
        a.fail("disks", "expected a list of disks, got " + model::describe_value(*disks));
    std::set<std::string> names;
    for (std::size_t i = 0; i < disks->size(); ++i) {
        model::AttrSet d((*disks)[i], a.child_path("disks") + "." + std::to_string(i));
        out.push_back(parse_data_disk(d, i, names));
    }
    return out;
}

std::optional<int> optional_int(model::AttrSet& a, const std::string& key, long long min,
                                long long max) {
    if (auto v = a.optional_int(key, min, max))
        return static_cast<int>(*v);
    return std::nullopt;
}

std::optional<std::int64_t> parse_disk_size(model::AttrSet& a) {
    auto size = a.optional_string("diskSize");
    if (!size)
        return std::nullopt;
    auto gib = parse_gib(*size);
    if (!gib)
        a.fail("diskSize", "expected a size in whole GiB such as \"32G\" or \"1T\"");
    return gib;
}

} // namespace

std::shared_ptr<const MachineSettings>
parse_machine_settings(model::AttrSet& a, const ProviderSettings&, const std::string& machine) {
    auto s = std::make_shared<PveMachineSettings>();
    auto tmpl = a.optional_int("template", 100, 999999999);
    if (!tmpl)
        a.fail("template", "missing (the VMID of the template to clone is required)");
    s->template_id = static_cast<int>(*tmpl);
    s->node = a.optional_string("node");
    s->name = a.optional_string("name").value_or(machine);
    check_vm_name(a, s->name);
    s->vmid = optional_int(a, "vmid", 100, 999999999);
    s->full = a.optional_bool("full").value_or(true);
    s->storage = a.optional_string("storage");
    s->shared = a.optional_bool("shared").value_or(false);
    if (s->shared && !s->storage)
        a.fail("shared", "shared = true needs `storage` (the storage that must be shared)");
    s->cores = optional_int(a, "cores", 1, 1024);
    s->sockets = optional_int(a, "sockets", 1, 16);
    s->memory = optional_int(a, "memory", 16, 8LL * 1024 * 1024);
    s->ssh_keys = parse_ssh_keys(a);
    s->user = a.optional_string("user");
    s->ip_config = a.optional_string("ipConfig");
    s->bridge = a.optional_string("bridge");
    s->disk_gib = parse_disk_size(a);
    s->disks = parse_data_disks(a);
    a.finish();
    return s;
}

} // namespace fedi::provider::pve
