// Host over SSH: every step is a command on the machine's own tools (nix-store,
// nix-env, the system's switch-to-configuration), run through one libssh2 session that
// is reused for the whole deploy of that machine.
#include "core/error.hpp"
#include "core/process.hpp"
#include "host/host.hpp"
#include "nix/serve.hpp"
#include "ssh/ssh.hpp"

#include <fmt/format.h>
#include <regex>

namespace fedi::host {

namespace {

constexpr const char* kSystemProfile = "/nix/var/nix/profiles/system";

class SshHost : public Host {
  public:
    SshHost(std::unique_ptr<ssh::Session> session, std::string label)
        : session_(std::move(session)), label_(std::move(label)) {}

    std::optional<std::string> newly_trusted_host_key() const override {
        if (!session_->host_key_is_new())
            return std::nullopt;
        return session_->host_key().openssh();
    }

    PushProgress push_closure(const std::vector<std::string>& roots,
                              const std::function<void(const PushProgress&)>& progress) override {
        auto channel = session_->exec("nix-store --serve --write");
        PushProgress p;
        nix::PushOptions options;
        options.serve.remote_name = label_;
        options.serve.remote_stderr = [&channel] { return channel->stderr_text(); };
        try {
            auto stats = nix::push_closure(
                *channel, *channel, roots,
                [&](std::uint64_t bytes, std::size_t paths) {
                    p.bytes_sent = bytes;
                    p.paths_sent = paths;
                    if (progress)
                        progress(p);
                },
                options);
            p = to_progress(stats);
            channel->send_eof();
            int status = channel->wait_exit_status();
            if (status != 0)
                throw Error(
                    fmt::format("nix-store --serve on the machine exited with status {}: {}",
                                status, channel->stderr_text()));
        } catch (Error& e) {
            e.with_context("pushing the closure of " + roots.front());
            throw;
        }
        return p;
    }

    SystemStatus system_status() override {
        auto r = session_->run(
            fmt::format("echo \"profile=$(readlink -f {0} 2>/dev/null)\"; "
                        "echo \"link=$(readlink {0} 2>/dev/null)\"; "
                        "echo \"current=$(readlink -f /run/current-system 2>/dev/null)\"",
                        kSystemProfile));
        if (r.exit_status != 0)
            throw Error(fmt::format("cannot read the machine's system profile: {}", r.err));
        SystemStatus s;
        std::smatch m;
        static const std::regex profile_re("profile=(.*)"), link_re("link=system-([0-9]+)-link"),
            current_re("current=(.*)");
        std::size_t pos = 0, nl;
        while ((nl = r.out.find('\n', pos)) != std::string::npos) {
            std::string line = r.out.substr(pos, nl - pos);
            pos = nl + 1;
            if (std::regex_match(line, m, link_re))
                s.generation = std::stoi(m[1]);
            else if (std::regex_match(line, m, profile_re))
                s.profile = m[1];
            else if (std::regex_match(line, m, current_re))
                s.current = m[1];
        }
        // readlink -f of a missing profile prints nothing; of an existing one, a store path.
        if (s.profile.rfind("/nix/store/", 0) != 0)
            s.profile.clear();
        if (s.current.rfind("/nix/store/", 0) != 0)
            s.current.clear();
        return s;
    }

    void set_profile(const std::string& system) override {
        auto r = session_->run(shell_join({"nix-env", "-p", kSystemProfile, "--set", system}));
        if (r.exit_status != 0)
            throw Error(fmt::format("cannot set the system profile to {}: {}", system, r.err));
    }

    ActivationResult switch_to_configuration(const std::string& system, const std::string& goal,
                                             const LineHandler& on_line) override {
        ActivationResult result;
        auto r = session_->run(shell_join({system + "/bin/switch-to-configuration", goal}), {},
                               on_line, on_line);
        result.exit_status = r.exit_status;
        return result;
    }

  private:
    static PushProgress to_progress(const nix::PushStats& s) {
        PushProgress p;
        p.paths_total = s.paths_total;
        p.paths_sent = s.paths_sent;
        p.bytes_sent = s.bytes_sent;
        p.nar_bytes = s.nar_bytes;
        return p;
    }

    std::unique_ptr<ssh::Session> session_;
    std::string label_;
};

} // namespace

std::unique_ptr<Host> Host::connect(const ConnectSettings& settings) {
    ssh::ConnectOptions o;
    o.host = settings.target.host;
    o.port = settings.target.port;
    o.user = settings.target.user;
    o.identity_file = settings.target.identity_file;
    o.host_keys.pinned = settings.target.host_key;
    o.host_keys.trusted_keys = settings.trusted_keys;
    if (!settings.known_hosts_files.empty())
        o.host_keys.known_hosts_files = settings.known_hosts_files;
    o.host_keys.accept_new = settings.accept_new_host_key;
    o.connect_timeout = settings.connect_timeout;
    o.idle_timeout = settings.idle_timeout;
    o.label = settings.label;
    return std::make_unique<SshHost>(ssh::Session::connect(o), settings.label);
}

} // namespace fedi::host
