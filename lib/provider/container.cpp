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
#include <unistd.h>

namespace fedi::provider {

namespace {

namespace fs = std::filesystem;

struct ContainerProviderSettings : ProviderSettings {
    std::optional<std::string> dir; // where containers live (default .fedi/containers)
    nlohmann::json to_json() const override {
        return {{"type", "container"}, {"dir", dir ? nlohmann::json(*dir) : nlohmann::json()}};
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

class ContainerProvider : public Provider {
  public:
    ContainerProvider(const ContainerProviderSettings& cfg, Context ctx)
        : cfg_(cfg), ctx_(std::move(ctx)) {}

    std::optional<Record> read(const Request&, const std::optional<Record>& rec) override {
        if (!rec)
            return std::nullopt;
        auto dir = rec->data.value("dir", "");
        auto r = script({"exec", "--dir", dir, rec->id, "--", "true"});
        if (r.ok())
            return rec;
        // Gone (the machine rebooted, or someone stopped it): clean up, make it again.
        script({"stop", "--dir", dir});
        std::error_code ec;
        fs::remove_all(dir, ec);
        return std::nullopt;
    }

    Plan diff(const Request& req, const Record& rec) override {
        Plan plan;
        auto want = settings_of(req).ssh_keys;
        auto have = rec.data.value("sshKeys", std::vector<std::string>{});
        if (want != have)
            plan.changes.push_back({"ssh keys", fmt::format("{} key(s)", have.size()),
                                    fmt::format("{} key(s)", want.size())});
        return plan;
    }

    Record create(const Request& req) override {
        require_root();
        auto dir = fs::path(cfg_.dir.value_or((fs::path(req.state_dir) / "containers").string())) /
                   req.machine;
        std::error_code ec;
        fs::remove_all(dir, ec); // leftovers of a failed start
        fs::create_directories(dir, ec);
        if (ec)
            throw Error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
        ctx_.info(fmt::format("starting a container in {}", dir.string()));
        auto r = script(
            {"start", "--dir", dir.string(), "--count", "1", "--prefix", label(req.machine)});
        if (!r.ok())
            throw Error(
                fmt::format("cannot start a container for {}: {}", req.machine, last_line(r.err)));
        auto hosts = nlohmann::json::parse(r.out, nullptr, false);
        if (!hosts.is_array() || hosts.empty())
            throw Error(fmt::format("the container script printed no host for {}", req.machine));
        const auto& h = hosts.back();
        Record rec;
        rec.type = "container";
        rec.id = h.value("name", "");
        rec.created = state::now_utc();
        rec.data = {{"dir", dir.string()}};
        rec.outputs.host = h.value("host", "127.0.0.1");
        rec.outputs.port = h.value("port", 22);
        rec.outputs.user = "root";
        rec.outputs.host_keys = {h.value("hostKey", ""), h.value("hostKeyRsa", "")};
        rec.outputs.identity_file = (dir / "client_ed25519").string();
        rec.outputs.extra = {{"container", rec.id}};
        return update(req, rec, {});
    }

    Record update(const Request& req, const Record& rec, const Plan&) override {
        auto out = rec;
        auto dir = fs::path(rec.data.value("dir", ""));
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
        auto r = script({"stop", "--dir", dir});
        if (!r.ok())
            throw Error(fmt::format("cannot stop the container in {}: {}", dir, last_line(r.err)));
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    std::string describe(const Record& rec) const override {
        return fmt::format("the local container {} ({}:{}, files in {})", rec.id, rec.outputs.host,
                           rec.outputs.port, rec.data.value("dir", ""));
    }

  private:
    static const ContainerMachineSettings& settings_of(const Request& req) {
        const auto* s = dynamic_cast<const ContainerMachineSettings*>(req.settings);
        if (!s)
            throw Error(fmt::format("machine {}: provision settings are not for a container "
                                    "provider",
                                    req.machine));
        return *s;
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

    ProcessResult script(std::vector<std::string> args) {
        args.insert(args.begin(), container_script());
        return run_process(args);
    }

    ContainerProviderSettings cfg_;
    Context ctx_;
};

} // namespace

ProviderType container_type() {
    ProviderType t;
    t.name = "container";
    t.summary = "local containers on this machine (needs root)";
    t.parse_provider = [](model::AttrSet& a) -> std::shared_ptr<const ProviderSettings> {
        auto s = std::make_shared<ContainerProviderSettings>();
        s->dir = a.optional_file("dir");
        a.finish();
        return s;
    };
    t.parse_machine = [](model::AttrSet& a, const ProviderSettings&,
                         const std::string&) -> std::shared_ptr<const MachineSettings> {
        auto s = std::make_shared<ContainerMachineSettings>();
        s->ssh_keys = a.string_list("sshKeys");
        a.finish();
        return s;
    };
    t.make = [](const ProviderSettings& s, const Context& ctx) -> std::unique_ptr<Provider> {
        return std::make_unique<ContainerProvider>(
            dynamic_cast<const ContainerProviderSettings&>(s), ctx);
    };
    return t;
}

} // namespace fedi::provider
