// PveClient's operations: version, nodes, storage, and the life of a VM (clone, config,
// resize, power, destroy, guest agent). Transport and tasks are in proxmox_api.cpp.
#include "provider/proxmox_api.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace fedi::provider::pve {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::string str(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? std::string() : json_string(*it);
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty())
            out.push_back(item);
    return out;
}

StorageInfo parse_storage(const json& s) {
    StorageInfo info;
    info.storage = str(s, "storage");
    info.type = str(s, "type");
    info.content = split_list(str(s, "content"));
    info.shared = json_bool(s.value("shared", json()));
    // Absent "enabled"/"active" mean the listing did not say; Proxmox sends both.
    info.enabled = json_bool(s.value("enabled", json()), true);
    info.active = json_bool(s.value("active", json()), false);
    info.total = json_int(s.value("total", json()));
    info.used = json_int(s.value("used", json()));
    info.avail = json_int(s.value("avail", json()));
    return info;
}

std::string node_or(const std::string& node, const std::string& fallback) {
    return node.empty() ? fallback : node;
}

} // namespace

bool StorageInfo::holds(std::string_view kind) const {
    return std::find(content.begin(), content.end(), kind) != content.end();
}

std::string PveClient::vm_path(const VmRef& vm, std::string_view rest) const {
    return fmt::format("/nodes/{}/qemu/{}{}", node_or(vm.node, config_.node), vm.vmid, rest);
}

VersionInfo PveClient::version() {
    auto v = get("/version");
    return {str(v, "version"), str(v, "release"), str(v, "repoid")};
}

std::vector<NodeInfo> PveClient::nodes() {
    std::vector<NodeInfo> out;
    for (const auto& n : get("/nodes"))
        out.push_back({str(n, "node"), str(n, "status"), str(n, "ssl_fingerprint")});
    return out;
}

std::vector<StorageInfo> PveClient::storages(const std::string& node) {
    std::vector<StorageInfo> out;
    for (const auto& s : get(fmt::format("/nodes/{}/storage", node_or(node, config_.node))))
        out.push_back(parse_storage(s));
    return out;
}

StorageInfo PveClient::storage_status(const std::string& storage, const std::string& node) {
    auto info = parse_storage(
        get(fmt::format("/nodes/{}/storage/{}/status", node_or(node, config_.node), storage)));
    if (info.storage.empty())
        info.storage = storage;
    return info;
}

int PveClient::next_free_vmid() {
    // Perl's JSON sends it as a string ("100"), the schema says integer: take both.
    auto data = get("/cluster/nextid");
    auto id = json_int(data, -1);
    if (id <= 0)
        throw ApiError(
            fmt::format("Proxmox GET /cluster/nextid: answered {} instead of a VMID", data.dump()),
            ApiError::Cause::Reply);
    return static_cast<int>(id);
}

std::vector<VmInfo> PveClient::list_vms() {
    std::vector<VmInfo> out;
    for (const auto& r : get("/cluster/resources", {{"type", "vm"}})) {
        if (str(r, "type") != "qemu")
            continue; // LXC containers share the VMID space but are not ours to manage
        VmInfo vm;
        vm.vmid = static_cast<int>(json_int(r.value("vmid", json())));
        vm.node = str(r, "node");
        vm.name = str(r, "name");
        vm.status = str(r, "status");
        vm.is_template = json_bool(r.value("template", json()));
        vm.lock = str(r, "lock");
        out.push_back(std::move(vm));
    }
    return out;
}

std::optional<VmInfo> PveClient::find_vm(int vmid) {
    for (auto& vm : list_vms())
        if (vm.vmid == vmid)
            return vm;
    return std::nullopt;
}

std::optional<VmInfo> PveClient::find_vm_by_name(const std::string& name) {
    std::vector<VmInfo> found;
    for (auto& vm : list_vms())
        if (vm.name == name)
            found.push_back(std::move(vm));
    if (found.size() > 1) {
        std::string ids;
        for (const auto& vm : found)
            ids += fmt::format("{}{} on {}", ids.empty() ? "" : ", ", vm.vmid, vm.node);
        throw Error(fmt::format("{} Proxmox VMs are named '{}' ({}); fedi cannot tell which "
                                "one is meant",
                                found.size(), name, ids));
    }
    if (found.empty())
        return std::nullopt;
    return found.front();
}

// Waits while a VM we found (after an unanswered clone call) is still locked by its clone.
// nullopt when it vanished: that clone failed and Proxmox removed it.
std::optional<VmInfo> PveClient::await_adopted(const VmInfo& vm) {
    auto deadline = Clock::now() + config_.timeouts.task;
    auto current = std::optional<VmInfo>(vm);
    while (current && !current->lock.empty()) {
        if (Clock::now() >= deadline)
            throw ApiError(fmt::format("VM {} ('{}') is still locked ({}) after {} s", vm.vmid,
                                       vm.name, current->lock,
                                       config_.timeouts.task.count() / 1000),
                           ApiError::Cause::Timeout);
        std::this_thread::sleep_for(config_.timeouts.poll_max);
        current = find_vm(vm.vmid);
    }
    return current;
}

// What one clone() call is about, shared by its steps.
struct PveClient::CloneJob {
    const CloneRequest& req;
    std::string source;   // the template's node
    std::string target;   // where the new VM ends up
    std::string path;     // the clone call
    std::set<int> before; // VMs that already had the name: not ours
};

namespace {

Form clone_form(const CloneRequest& req, const std::string& source, int id) {
    Form form{{"newid", std::to_string(id)}, {"name", req.name}, {"full", req.full ? "1" : "0"}};
    if (req.storage)
        form.emplace_back("storage", *req.storage);
    if (req.target_node && *req.target_node != source)
        form.emplace_back("target", *req.target_node);
    if (req.description)
        form.emplace_back("description", *req.description);
    return form;
}

std::string clone_what(const CloneRequest& req, int id) {
    return fmt::format("clone VM {} to {} ('{}')", req.template_vmid, id, req.name);
}

} // namespace

// A new VM with our name, made by this clone() call (nullopt: none yet).
std::optional<VmInfo> PveClient::clone_landed(const CloneJob& job) {
    std::vector<VmInfo> ours;
    for (auto& vm : list_vms())
        if (vm.name == job.req.name && !job.before.count(vm.vmid))
            ours.push_back(std::move(vm));
    if (ours.size() > 1)
        throw Error(fmt::format("cloning '{}' made {} VMs ({} and {}); remove the extra one by "
                                "hand",
                                job.req.name, ours.size(), ours[0].vmid, ours[1].vmid));
    if (ours.empty())
        return std::nullopt;
    return ours.front();
}

// After a clone call that got no answer: watches for a while whether VMID `id` or a new
// VM with our name appears.
std::optional<VmInfo> PveClient::find_unanswered_clone(const CloneJob& job, int id,
                                                       const ApiError& e) {
    notice(fmt::format("{}: {}; checking whether the clone happened", clone_what(job.req, id),
                       e.message()));
    for (auto until = Clock::now() + config_.retry.settle;;) {
        if (auto same = find_vm(id)) {
            // A clone in progress has no name yet: wait until it is unlocked, then its
            // name says whether it is ours.
            auto done = await_adopted(*same);
            if (done && done->name == job.req.name && !job.before.count(id))
                return done;
            return std::nullopt;
        }
        if (auto found = clone_landed(job); found || Clock::now() >= until)
            return found;
        std::this_thread::sleep_for(std::min(config_.timeouts.poll_max, config_.retry.settle));
    }
}

// A failed attempt: returns our VM when it exists after all, rethrows what is not worth
// another attempt, and otherwise returns nullopt after saying why it tries again.
std::optional<CloneResult> PveClient::recover_clone(const CloneJob& job, ApiError& e, int id,
                                                    int attempt) {
    auto what = clone_what(job.req, id);
    // No answer: the clone may have started. (A task that outlives its timeout is no such
    // case: it is still running, and the error says so.)
    bool unanswered = e.cause() == ApiError::Cause::Transport;
    bool race = e.vmid_taken();
    if (!unanswered && !race && !e.lock_timeout()) {
        e.with_context("trying to " + what);
        throw e;
    }
    // Before cloning again: did this (or an earlier) attempt create our VM after all?
    auto found = clone_landed(job);
    if (!found && unanswered)
        found = find_unanswered_clone(job, id, e);
    if (found) {
        notice(fmt::format("found VM {} named '{}' from an earlier clone attempt", found->vmid,
                           job.req.name));
        if (auto done = await_adopted(*found))
            return CloneResult{done->ref(), "", true, attempt};
    }
    if (race && job.req.newid) {
        e.with_context(fmt::format("trying to {} (VMID {} was asked for and is taken)", what, id));
        throw e;
    }
    if (attempt >= config_.retry.attempts) {
        e.with_context(fmt::format("trying to {} (gave up after {} attempts)", what, attempt));
        throw e;
    }
    if (race) {
        notice(fmt::format("{}: VMID {} was taken by another creator; trying a new one", what, id));
    } else {
        notice(fmt::format("{}: {}; retrying (attempt {} of {})", what,
                           e.remote_message().empty() ? e.message() : e.remote_message(),
                           attempt + 1, config_.retry.attempts));
        sleep_backoff(attempt);
    }
    return std::nullopt;
}

CloneResult PveClient::clone(const CloneRequest& req, const TaskLog& on_log) {
    if (req.name.empty())
        throw usage_error("Proxmox clone: a name for the new VM is required");
    auto source = req.source_node.value_or(config_.node);
    CloneJob job{req,
                 source,
                 req.target_node.value_or(source),
                 fmt::format("/nodes/{}/qemu/{}/clone", source, req.template_vmid),
                 {}};
    for (const auto& vm : list_vms())
        if (vm.name == req.name)
            job.before.insert(vm.vmid);
    for (int attempt = 1;; ++attempt) {
        int id = req.newid ? *req.newid : next_free_vmid();
        try {
            auto upid = json_string(post(job.path, clone_form(req, source, id)));
            wait_task(upid, std::nullopt, on_log);
            return {{job.target, id}, upid, false, attempt};
        } catch (ApiError& e) {
            if (auto adopted = recover_clone(job, e, id, attempt))
                return *adopted;
        }
    }
}

json PveClient::get_config(const VmRef& vm) {
    return get(vm_path(vm, "/config"));
}

void PveClient::set_config(const VmRef& vm, const Form& changes, const ConfigOptions& options) {
    if (changes.empty())
        return; // Proxmox refuses an empty change ("no options specified")
    Form form = changes;
    if (options.digest)
        form.emplace_back("digest", *options.digest);
    auto what = fmt::format("change the config of VM {}", vm.vmid);
    retry_locked(what, [&] {
        if (options.synchronous)
            put(vm_path(vm, "/config"), form);
        else
            run_task(what, post(vm_path(vm, "/config"), form));
    });
}

void PveClient::resize(const VmRef& vm, const std::string& disk, const std::string& size) {
    auto what = fmt::format("resize disk {} of VM {} to {}", disk, vm.vmid, size);
    retry_locked(what, [&] {
        run_task(what, put(vm_path(vm, "/resize"), {{"disk", disk}, {"size", size}}));
    });
}

void PveClient::start(const VmRef& vm) {
    auto what = fmt::format("start VM {}", vm.vmid);
    retry_locked(what, [&] {
        try {
            run_task(what, post(vm_path(vm, "/status/start")));
        } catch (const ApiError& e) {
            // Started meanwhile (by us on an earlier try, or by someone else): fine.
            if (e.cause() != ApiError::Cause::Task ||
                e.remote_message().find("already running") == std::string::npos)
                throw;
        }
    });
}

void PveClient::stop(const VmRef& vm) {
    auto what = fmt::format("stop VM {}", vm.vmid);
    retry_locked(what, [&] { run_task(what, post(vm_path(vm, "/status/stop"))); });
}

void PveClient::shutdown(const VmRef& vm, std::optional<int> timeout_seconds, bool force_stop) {
    Form form{{"forceStop", force_stop ? "1" : "0"}};
    if (timeout_seconds)
        form.emplace_back("timeout", std::to_string(*timeout_seconds));
    auto what = fmt::format("shut down VM {}", vm.vmid);
    retry_locked(what, [&] { run_task(what, post(vm_path(vm, "/status/shutdown"), form)); });
}

void PveClient::destroy(const VmRef& vm, const DestroyOptions& options) {
    Form query;
    if (options.purge)
        query.emplace_back("purge", "1");
    if (options.destroy_unreferenced_disks)
        query.emplace_back("destroy-unreferenced-disks", "1");
    auto what = fmt::format("destroy VM {}", vm.vmid);
    retry_locked(what, [&] { run_task(what, del(vm_path(vm), query)); });
}

VmStatus PveClient::status_current(const VmRef& vm) {
    auto s = get(vm_path(vm, "/status/current"));
    VmStatus out;
    out.status = str(s, "status");
    out.qmpstatus = str(s, "qmpstatus");
    out.agent = json_bool(s.value("agent", json()));
    out.lock = str(s, "lock");
    out.raw = std::move(s);
    return out;
}

std::vector<GuestInterface> PveClient::agent_network_interfaces(const VmRef& vm) {
    return parse_guest_interfaces(get(vm_path(vm, "/agent/network-get-interfaces")));
}

std::optional<std::string> PveClient::guest_address(const VmRef& vm) {
    auto config = get_config(vm);
    std::optional<std::string> mac;
    if (config.contains("net0"))
        mac = mac_of_net(json_string(config["net0"]));
    return pick_guest_address(agent_network_interfaces(vm), mac);
}

FileContent PveClient::agent_file_read(const VmRef& vm, const std::string& path) {
    auto data = get(vm_path(vm, "/agent/file-read"), {{"file", path}});
    FileContent out;
    out.content = str(data, "content");
    // Proxmox only sends "truncated" when it is true.
    out.truncated = json_bool(data.value("truncated", json()));
    return out;
}

void PveClient::wait_for_agent(const VmRef& vm, Millis timeout) {
    auto deadline = Clock::now() + timeout;
    auto interval = config_.timeouts.poll_min;
    bool told = false;
    for (;;) {
        try {
            post(vm_path(vm, "/agent/ping"));
            return;
        } catch (const ApiError& e) {
            if (e.cause() != ApiError::Cause::Reply || !is_agent_not_ready(e.remote_message()))
                throw;
            if (Clock::now() >= deadline)
                throw ApiError(fmt::format("the QEMU guest agent of VM {} did not answer within "
                                           "{} s ({}); is qemu-guest-agent installed and "
                                           "enabled in the template?",
                                           vm.vmid, timeout.count() / 1000, e.remote_message()),
                               ApiError::Cause::Timeout, e.status(), e.remote_message());
            if (!told)
                notice(fmt::format("VM {}: waiting for the QEMU guest agent", vm.vmid));
            told = true;
        }
        auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
        std::this_thread::sleep_for(std::clamp(interval, Millis(1), std::max(left, Millis(1))));
        interval = std::min(config_.timeouts.poll_max, interval * 3 / 2);
    }
}

} // namespace fedi::provider::pve
