// The `container` provider: local machines on this Linux host, each an OpenSSH sshd in
// private mount, UTS and PID namespaces with its own /nix store, /var/lib and /root (the
// same mechanism as fedi's test hosts). The zero-infrastructure way to try fedi. Needs
// root. Containers live beside the state file (.fedi/containers/<machine>/) and keep
// running after fedi exits, until destroyed.
#include "core/process.hpp"
#include "model/checks.hpp"
#include "provider/existing.hpp"
#include "state/state.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unistd.h>

namespace fedi::provider {

namespace {

namespace fs = std::filesystem;

struct ContainerProviderSettings : ProviderSettings {
    std::optional<std::string> dir; // where containers live (default .fedi/containers)
    bool systemd = false;           // systemd as the containers' PID 1 (testhosts --systemd)
    nlohmann::json to_json() const override {
        return {{"type", "container"},
                {"dir", dir ? nlohmann::json(*dir) : nlohmann::json()},
                {"systemd", systemd}};
    }
};

struct ContainerMachineSettings : MachineSettings {
    std::vector<std::string> ssh_keys; // authorized besides the key fedi makes
    nlohmann::json to_json() const override { return {{"sshKeys", ssh_keys}}; }
};

// The container script: FEDI_CONTAINERS_SCRIPT, else the installed copy
// (<prefix>/share/fedi/containers/fedi-containers beside bin/fedi), else the source tree's.
std::string container_script() {
    if (const char* env = std::getenv("FEDI_CONTAINERS_SCRIPT"); env && *env)
        return env;
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto installed =
            exe.parent_path().parent_path() / "share" / "fedi" / "containers" / "fedi-containers";
        if (fs::exists(installed, ec))
            return installed.string();
    }
#ifdef FEDI_SOURCE_DIR
    auto source = fs::path(FEDI_SOURCE_DIR) / "test" / "hosts" / "testhosts";
    if (fs::exists(source, ec))
        return source.string();
#endif
    throw Error("cannot find fedi's container script (share/fedi/containers/fedi-containers "
                "beside the fedi binary); set FEDI_CONTAINERS_SCRIPT to its path");
}

// A hostname label from a machine name ("S3_1" -> "s3-1"): the one rule, shared with the
// pre-flight check that refuses two machines becoming the same container.
std::string label(const std::string& machine) {
    return model::host_label(machine);
}

// The file in a container's directory that proves fedi made it: it holds a random id that
// the state records too (provisioned.<m>.data.marker). fedi removes, starts or writes into
// a container directory only when both agree.
constexpr const char* marker_file = ".fedi-container";

std::string random_id() {
    unsigned char buf[16];
    std::ifstream in("/dev/urandom", std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(buf), sizeof buf))
        throw Error("cannot read /dev/urandom");
    std::string out;
    for (unsigned char c : buf)
        out += fmt::format("{:02x}", c);
    return out;
}

std::string read_small_file(const fs::path& file) {
    std::ifstream in(file);
    std::string text(std::istreambuf_iterator<char>(in), {});
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

// Whether a mount point lies at or under `dir` (seen from this process): removing such a
// tree would reach into another file system.
std::optional<std::string> mount_under(const fs::path& dir) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    auto prefix = dir.string() + "/";
    while (std::getline(in, line)) {
        // "id parent major:minor root mount-point options ..."; octal escapes for spaces.
        std::istringstream fields(line);
        std::string id, parent, dev, root, point;
        fields >> id >> parent >> dev >> root >> point;
        if (point == dir.string() || point.rfind(prefix, 0) == 0)
            return point;
    }
    return std::nullopt;
}

class ContainerProvider : public Provider {
  public:
    ContainerProvider(const ContainerProviderSettings& cfg, Context ctx)
        : cfg_(cfg), ctx_(std::move(ctx)) {}

    // Side-effect free: probes the container and its directory, changes nothing (this runs
    // under --dry-run too).
    std::optional<Record> read(const Request&, const std::optional<Record>& rec) override {
        if (!rec)
            return std::nullopt;
        auto dir = rec->data.value("dir", "");
        std::error_code ec;
        if (dir.empty() || !fs::exists(fs::symlink_status(dir, ec)))
            return std::nullopt; // gone with its data: nothing to keep, make a new one
        if (running(*rec))
            return rec;
        // Stopped (the deployer rebooted, or someone stopped it): start it again with its
        // data, in update(); only in a directory fedi can prove it made.
        if (auto why = not_ours(*rec))
            throw Error(fmt::format("the container of machine {} is not running and fedi will not "
                                    "start it again: {}",
                                    rec->id.empty() ? dir : rec->id, *why));
        stopped_ = true;
        return rec;
    }

    Plan diff(const Request& req, const Record& rec) override {
        Plan plan;
        if (stopped_)
            plan.changes.push_back({"container", "stopped", "running (with its data)"});
        auto want = settings_of(req).ssh_keys;
        auto have = rec.data.value("sshKeys", std::vector<std::string>{});
        if (want != have)
            plan.changes.push_back({"ssh keys", fmt::format("{} key(s)", have.size()),
                                    fmt::format("{} key(s)", want.size())});
        return plan;
    }

    Record create(const Request& req) override {
        require_root();
        auto root = containers_root();
        auto dir = root / req.machine;
        std::error_code ec;
        if (fs::exists(fs::symlink_status(dir, ec)))
            throw Error(fmt::format(
                "cannot create a container for {}: {} already exists and state records no "
                "container of fedi's there; fedi does not use or remove a directory it did not "
                "create. Move it away (or remove it yourself) and run again",
                req.machine, dir.string()));
        fs::create_directories(root, ec);
        if (ec || !fs::create_directory(dir, ec) || ec)
            throw Error(fmt::format("cannot create {}: {}", dir.string(),
                                    ec ? ec.message() : "it appeared meanwhile"));
        Record rec;
        rec.type = "container";
        rec.created = state::now_utc();
        rec.data = {{"dir", dir.string()}, {"marker", random_id()}};
        {
            std::ofstream marker(dir / marker_file, std::ios::trunc);
            marker << rec.data["marker"].get<std::string>() << "\n";
            if (!marker.flush())
                throw Error(fmt::format("cannot write {}", (dir / marker_file).string()));
        }
        // Recorded before the container starts: a crash from here on leaves a record (and a
        // directory fedi can prove it made) that the next run starts instead of a second one.
        if (ctx_.save)
            ctx_.save(rec);
        ctx_.info(fmt::format("starting a container in {}", dir.string()));
        return update(req, start(req, rec), {});
    }

    Record update(const Request& req, const Record& rec, const Plan&) override {
        auto out = rec;
        if (stopped_ || !rec.complete) {
            if (!running(rec)) {
                if (auto why = not_ours(rec))
                    throw Error(fmt::format("will not start the container of machine {}: {}",
                                            req.machine, *why));
                out = start(req, rec);
            }
            stopped_ = false;
        }
        auto dir = fs::path(out.data.value("dir", ""));
        // The key fedi made plus the deployment's keys.
        std::string keys;
        for (const char* k : {"client_ed25519.pub", "client_rsa.pub"}) {
            std::ifstream in(dir / k);
            keys += std::string(std::istreambuf_iterator<char>(in), {});
        }
        for (const auto& k : settings_of(req).ssh_keys)
            keys += k + "\n";
        std::ofstream file(dir / "authorized_keys", std::ios::trunc);
        file << keys;
        if (!file.flush())
            throw Error(fmt::format("cannot write {}/authorized_keys", dir.string()));
        out.data["sshKeys"] = settings_of(req).ssh_keys;
        out.complete = true;
        out.protect = req.protect;
        return out;
    }

    void destroy(const Record& rec) override {
        require_root();
        auto dir = rec.data.value("dir", "");
        std::error_code ec;
        if (dir.empty() || !fs::exists(fs::symlink_status(dir, ec)))
            return; // already gone
        if (auto why = not_ours(rec))
            throw Error(fmt::format("fedi will not remove {}: {}", dir, *why));
        auto r = script({"stop", "--dir", dir});
        if (!r.ok())
            throw Error(fmt::format("cannot stop the container in {}: {}", dir, last_line(r.err)));
        auto real = fs::canonical(dir, ec);
        if (ec)
            throw Error(fmt::format("cannot resolve {}: {}", dir, ec.message()));
        if (auto point = mount_under(real))
            throw Error(fmt::format("fedi will not remove {}: {} is mounted there", dir, *point));
        fs::remove_all(real, ec);
        if (ec)
            throw Error(fmt::format("cannot remove {}: {}", dir, ec.message()));
    }

    std::string describe(const Record& rec) const override {
        return fmt::format("the local container {} ({}:{}, files in {})", rec.id, rec.outputs.host,
                           rec.outputs.port, rec.data.value("dir", ""));
    }

  private:
    // Where this provider's containers live: providers.<name>.dir, else containers/ beside
    // the state file.
    fs::path containers_root() const {
        if (cfg_.dir)
            return *cfg_.dir;
        return fs::path(ctx_.state_dir) / "containers";
    }

    // Why the record's directory is not one fedi can prove it made (nullopt when it is):
    // it must be a direct child of the containers directory (after resolving symlinks) and
    // hold the marker file with the id recorded in state.
    std::optional<std::string> not_ours(const Record& rec) const {
        auto dir = rec.data.value("dir", "");
        auto marker = rec.data.value("marker", "");
        std::error_code ec;
        auto root = fs::canonical(containers_root(), ec);
        if (ec)
            return fmt::format("the containers directory {} cannot be resolved: {}",
                               containers_root().string(), ec.message());
        auto real = fs::canonical(dir, ec);
        if (ec)
            return fmt::format("{} cannot be resolved: {}", dir, ec.message());
        if (real.parent_path() != root)
            return fmt::format("{} (really {}) is not a directory directly inside fedi's "
                               "containers directory {}",
                               dir, real.string(), root.string());
        if (marker.empty())
            return fmt::format("state records no marker for {} (made by an older fedi?); stop "
                               "and remove it yourself if it is not needed",
                               dir);
        auto file = real / marker_file;
        if (!fs::is_regular_file(fs::symlink_status(file, ec)))
            return fmt::format("{} has no {} file: fedi did not make it", dir, marker_file);
        if (read_small_file(file) != marker)
            return fmt::format("the id in {} is not the one state records: fedi did not make "
                               "this directory for this state",
                               file.string());
        return std::nullopt;
    }

    static bool running(const Record& rec) {
        if (rec.id.empty())
            return false;
        return script({"exec", "--dir", rec.data.value("dir", ""), rec.id, "--", "true"}).ok();
    }

    // Starts the container of `rec`: the recorded one again, with its /nix, /var/lib,
    // /root and host keys, when its files are there; else a new one in the same directory
    // (a start that never finished). Returns the record with fresh outputs.
    Record start(const Request& req, const Record& rec) const {
        require_root();
        auto dir = fs::path(rec.data.value("dir", ""));
        std::error_code ec;
        bool again = !rec.id.empty() && fs::exists(dir / rec.id / "ssh_host_ed25519_key", ec);
        ProcessResult r;
        if (again) {
            ctx_.info(fmt::format("starting the stopped container {} again with its data", rec.id));
            r = script({"restart", "--dir", dir.string(), rec.id});
        } else {
            // A start that never finished may have left a host running in this directory
            // (fedi's, with no data yet): end it before making the new one.
            script({"stop", "--dir", dir.string()});
            std::vector<std::string> args{"start", "--dir",    dir.string(),      "--count",
                                          "1",     "--prefix", label(req.machine)};
            if (cfg_.systemd)
                args.push_back("--systemd");
            r = script(args);
        }
        if (!r.ok())
            throw Error(
                fmt::format("cannot start a container for {}: {}", req.machine, last_line(r.err)));
        auto hosts = nlohmann::json::parse(r.out, nullptr, false);
        if (!hosts.is_array() || hosts.empty())
            throw Error(fmt::format("the container script printed no host for {}", req.machine));
        nlohmann::json h = hosts.back();
        if (again)
            for (const auto& each : hosts)
                if (each.value("name", "") == rec.id)
                    h = each;
        auto out = rec;
        out.id = h.value("name", "");
        out.outputs.host = h.value("host", "127.0.0.1");
        out.outputs.port = h.value("port", 22);
        out.outputs.user = "root";
        out.outputs.host_keys = {h.value("hostKey", ""), h.value("hostKeyRsa", "")};
        out.outputs.identity_file = (dir / "client_ed25519").string();
        out.outputs.extra = {{"container", out.id}};
        return out;
    }

    static const ContainerMachineSettings& settings_of(const Request& req) {
        return settings_as<ContainerMachineSettings>(req, "a container provider");
    }

    static void require_root() {
        if (::geteuid() != 0)
            throw Error("the container provider needs root: it creates Linux namespaces and "
                        "mounts; run fedi as root (e.g. with sudo) or use another provider");
    }

    static std::string last_line(std::string text) {
        while (!text.empty() && text.back() == '\n')
            text.pop_back();
        auto nl = text.rfind('\n');
        return nl == std::string::npos ? text : text.substr(nl + 1);
    }

    static ProcessResult script(std::vector<std::string> args) {
        args.insert(args.begin(), container_script());
        return run_process(args);
    }

    ContainerProviderSettings cfg_;
    Context ctx_;
    bool stopped_ = false; // read() found the container stopped (one machine per provider)
};

} // namespace

namespace {

std::shared_ptr<const ProviderSettings> parse_container_provider(model::AttrSet& a) {
    auto s = std::make_shared<ContainerProviderSettings>();
    s->dir = a.optional_file("dir");
    s->systemd = a.optional_bool("systemd").value_or(false);
    a.finish();
    return s;
}

std::shared_ptr<const MachineSettings>
parse_container_machine(model::AttrSet& a, const ProviderSettings&, const std::string&) {
    auto s = std::make_shared<ContainerMachineSettings>();
    s->ssh_keys = a.string_list("sshKeys");
    a.finish();
    return s;
}

std::unique_ptr<Provider> make_container_provider(const ProviderSettings& s, const Context& ctx) {
    return std::make_unique<ContainerProvider>(dynamic_cast<const ContainerProviderSettings&>(s),
                                               ctx);
}

} // namespace

ProviderType container_type() {
    return {{"container", parse_container_provider, parse_container_machine},
            "local containers on this machine (needs root)",
            make_container_provider};
}

} // namespace fedi::provider
