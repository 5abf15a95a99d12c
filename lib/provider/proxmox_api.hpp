#pragma once
// A client for the Proxmox VE REST API (/api2/json) with API-token authentication.
// It unwraps Proxmox's {"data": ...} replies, turns errors into fedi::Error messages that
// say what Proxmox said, waits for worker tasks (UPIDs), retries what a busy cluster makes
// fail now and then (config lock timeouts, VMID races), and never puts the token in a
// message. Written from the official API schema (pve-docs apidata.js).
//
// One PveClient per thread: it owns one libcurl handle.
#include "core/error.hpp"
#include "provider/proxmox_format.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fedi::http {
class Client;
}

namespace fedi::provider::pve {

using Millis = std::chrono::milliseconds;

struct Timeouts {
    Millis connect{10'000};
    Millis request{120'000}; // one HTTP request
    Millis task{1'800'000};  // default wait for a worker task (a full clone can take long)
    Millis poll_min{250};    // task polling starts here and slows down to poll_max
    Millis poll_max{2'000};
};

// Retries of lock timeouts ("can't lock file ... - got timeout") and VMID races.
struct RetryPolicy {
    int attempts = 6;      // tries in all
    Millis backoff{1'000}; // wait before the 2nd try, doubled for each further try
    Millis max_backoff{16'000};
    // After a clone call that got no answer, how long to watch for our VM (or its VMID)
    // to appear before cloning again.
    Millis settle{5'000};
};

struct PveConfig {
    std::string endpoint; // "https://pve1:8006" (a trailing /api2/json is fine)
    std::string node;     // the node operations run on unless told otherwise
    std::string token;    // USER@REALM!TOKENID=SECRET (see read_token)
    // Where the token came from, for messages: "tokenFile /run/secrets/pve" (see
    // describe_token_source).
    std::string token_source;
    // PEM CA file to trust (the cluster's /etc/pve/pve-root-ca.pem) instead of the system's.
    std::optional<std::string> ca_file;
    // The node certificate's SHA-256 fingerprint as Proxmox shows it ("AB:CD:..", 64 hex
    // digits, colons optional), or a public-key pin in curl's "sha256//BASE64" form.
    // With no ca_file, a matching certificate is trusted without a CA chain.
    std::optional<std::string> fingerprint;
    bool insecure = false; // no TLS verification at all; only when the user asks
    Timeouts timeouts;
    RetryPolicy retry;
    // Told about retries and waits ("VM 101 is locked; retrying in 2 s"), for progress lines.
    std::function<void(const std::string&)> on_notice;
};

// A failed Proxmox call. message() is complete for the user; the fields let callers react.
class ApiError : public Error {
  public:
    enum class Cause {
        Reply,     // Proxmox answered with an error status
        Auth,      // 401: the token was refused
        Tls,       // the server's certificate could not be verified
        Transport, // no answer (connection refused, timeout, reset)
        Task,      // a worker task ended with an error
        Timeout,   // a task or guest agent wait ran out of time
    };
    ApiError(std::string message, Cause cause, long status = 0, std::string remote = {});

    Cause cause() const { return cause_; }
    long status() const { return status_; } // HTTP status; 0 when none
    // What Proxmox said: the reply's message (or status reason) or the task's exitstatus.
    const std::string& remote_message() const { return remote_; }
    // Parameter errors of a 400 reply: name -> message.
    std::map<std::string, std::string> param_errors;
    // The last lines of a failed task's log.
    std::vector<std::string> log_tail;

    bool lock_timeout() const { return is_lock_timeout(remote_); }
    bool already_exists() const { return is_already_exists(remote_); }
    // The VMID was taken by another creator: "already exists" on this node, or pmxcfs
    // refusing the clone's config file because the VMID exists on another node.
    bool vmid_taken() const;

  private:
    Cause cause_;
    long status_;
    std::string remote_;
};

// A VM on a node. VM operations run on the VM's own node.
struct VmRef {
    std::string node;
    int vmid = 0;
};

struct VersionInfo {
    std::string version; // "9.1.1"
    std::string release; // "9.1"
    std::string repoid;
};

struct NodeInfo {
    std::string node;
    std::string status; // online, offline, unknown
    std::string ssl_fingerprint;
};

struct StorageInfo {
    std::string storage;
    std::string type;                 // dir, lvmthin, drbd, rbd, ...
    std::vector<std::string> content; // images, rootdir, iso, ...
    bool shared = false;
    bool enabled = false;
    bool active = false;
    std::int64_t total = 0, used = 0, avail = 0; // bytes
    bool holds(std::string_view kind) const;
};

struct VmInfo {
    int vmid = 0;
    std::string node;
    std::string name;
    std::string status; // running, stopped, ...
    bool is_template = false;
    std::string lock; // "clone", "backup", ... or empty
    VmRef ref() const { return {node, vmid}; }
};

struct VmStatus {
    std::string status;    // running | stopped
    std::string qmpstatus; // running, paused, prelaunch, ...
    bool agent = false;    // agent enabled in the config
    std::string lock;
    nlohmann::json raw; // the whole reply
    bool running() const { return status == "running"; }
};

struct TaskResult {
    std::string upid;
    std::string exitstatus; // "OK" or "WARNINGS: n"
    int warnings = 0;
};
// Called with each new task log line while a task is waited for.
using TaskLog = std::function<void(const std::string& line)>;

struct CloneRequest {
    int template_vmid = 0;
    std::string name;                   // required: how a clone is recognised after a race
    std::optional<int> newid;           // a fixed VMID; default: /cluster/nextid, retried on races
    bool full = true;                   // full clone (else linked, templates only)
    std::optional<std::string> storage; // target storage for a full clone
    std::optional<std::string> target_node; // a node other than the template's (shared storage)
    std::optional<std::string> source_node; // the template's node; default PveConfig::node
    std::optional<std::string> description;
};

struct CloneResult {
    VmRef vm;
    std::string upid; // empty when adopted
    // Found our VM (new, with our name) after a call that got no answer or lost a race,
    // instead of cloning again.
    bool adopted = false;
    int attempts = 1;
};

struct ConfigOptions {
    // Refuse the change when the config changed since it was read (GET config's digest).
    std::optional<std::string> digest;
    // PUT (synchronous) instead of POST (a worker task). PUT is fine for small changes;
    // POST is what to use for disk allocation.
    bool synchronous = false;
};

struct DestroyOptions {
    bool purge = true;                      // also from backup jobs, replication, HA
    bool destroy_unreferenced_disks = true; // stray vm-N-* volumes too
};

struct FileContent {
    std::string content;
    bool truncated = false;
};

class PveClient {
  public:
    // Checks endpoint and token shape (usage errors); connects on first use.
    explicit PveClient(PveConfig config);
    ~PveClient();
    PveClient(const PveClient&) = delete;
    PveClient& operator=(const PveClient&) = delete;

    const PveConfig& config() const { return config_; }
    // The token's public part ("root@pam!fedi"), for messages.
    std::string token_id() const { return token_id_.id(); }
    VmRef vm(int vmid) const { return {config_.node, vmid}; }

    // Generic calls. `path` is below /api2/json, unencoded ("/nodes/pve1/qemu/100/config");
    // each segment is percent-encoded here. They return the reply's `data`.
    nlohmann::json get(std::string_view path, const Form& query = {});
    nlohmann::json post(std::string_view path, const Form& form = {});
    nlohmann::json put(std::string_view path, const Form& form = {});
    nlohmann::json del(std::string_view path, const Form& query = {});

    // Polls the task until it stops. OK or WARNINGS is success; anything else throws an
    // ApiError (Cause::Task) with the exitstatus and the log's last lines.
    TaskResult wait_task(const std::string& upid, std::optional<Millis> timeout = {},
                         const TaskLog& on_log = {});
    std::vector<std::string> task_log_tail(const std::string& upid, int lines = 20);

    VersionInfo version();
    std::vector<NodeInfo> nodes();
    std::vector<StorageInfo> storages(const std::string& node = {});
    StorageInfo storage_status(const std::string& storage, const std::string& node = {});

    // /cluster/nextid. Reserves nothing: clone() copes with the race.
    int next_free_vmid();
    std::vector<VmInfo> list_vms(); // QEMU VMs and templates of the whole cluster
    std::optional<VmInfo> find_vm(int vmid);
    bool vm_exists(int vmid) { return find_vm(vmid).has_value(); }
    // Throws when more than one VM has the name (Proxmox does not keep names unique).
    std::optional<VmInfo> find_vm_by_name(const std::string& name);

    // Clones and waits for the clone task. Retries lock timeouts, and VMID races with a
    // fresh id; after an unanswered call it looks for a new VM named req.name before
    // cloning again, so there is never more than one.
    CloneResult clone(const CloneRequest& req, const TaskLog& on_log = {});

    nlohmann::json get_config(const VmRef& vm); // includes "digest"; sshkeys still encoded
    // Changes config options; values are plain text, except `sshkeys`, which must be
    // encode_sshkeys(...). ("delete", "opt1,opt2") removes options. Retries lock timeouts.
    void set_config(const VmRef& vm, const Form& changes, const ConfigOptions& options = {});
    // size "+10G" grows by, "210G" grows to; shrinking fails.
    void resize(const VmRef& vm, const std::string& disk, const std::string& size);
    void start(const VmRef& vm); // a running VM is fine
    void stop(const VmRef& vm);  // hard stop; a stopped VM is fine
    void shutdown(const VmRef& vm, std::optional<int> timeout_seconds = {}, bool force_stop = true);
    void destroy(const VmRef& vm, const DestroyOptions& options = {}); // stop it first
    VmStatus status_current(const VmRef& vm);

    // Guest agent calls: 500 "QEMU guest agent is not running" until the guest's agent runs.
    std::vector<GuestInterface> agent_network_interfaces(const VmRef& vm);
    // The address to reach the guest at (pick_guest_address, net0's MAC preferred).
    std::optional<std::string> guest_address(const VmRef& vm);
    FileContent agent_file_read(const VmRef& vm, const std::string& path);
    // Waits until agent/ping answers; throws at once for a stopped VM or no agent configured.
    void wait_for_agent(const VmRef& vm, Millis timeout);

  private:
    nlohmann::json request(const std::string& method, std::string_view path, const Form& form);
    void connect();
    void notice(const std::string& text) const;
    // Runs attempt() again while it fails with a lock timeout, with backoff.
    void retry_locked(const std::string& what, const std::function<void()>& attempt);
    void sleep_backoff(int failed_attempts) const;
    void run_task(const std::string& what, const nlohmann::json& reply, const TaskLog& on_log = {});
    std::string vm_path(const VmRef& vm, std::string_view rest = {}) const;
    std::optional<VmInfo> await_adopted(const VmInfo& vm);
    // Task polling steps: new log lines (from `seen` on), and the error of a failed task.
    std::int64_t forward_task_log(const std::string& log_path, std::int64_t seen,
                                  const TaskLog& on_log);
    [[noreturn]] void fail_task(const std::string& what, const std::string& upid,
                                const std::string& exit);
    // clone()'s steps (proxmox_vm.cpp).
    struct CloneJob;
    std::optional<VmInfo> clone_landed(const CloneJob& job);
    std::optional<VmInfo> find_unanswered_clone(const CloneJob& job, int id, const ApiError& e);
    std::optional<CloneResult> recover_clone(const CloneJob& job, ApiError& e, int id, int attempt);

    PveConfig config_;
    std::string base_; // https://host:port/api2/json
    TokenId token_id_;
    std::string pin_; // the public-key pin in use, after checking a fingerprint
    std::unique_ptr<http::Client> http_;
};

} // namespace fedi::provider::pve
