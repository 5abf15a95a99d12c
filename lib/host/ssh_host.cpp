// Host over SSH: every step is a command on the machine's own tools (nix-store,
// nix-env, the system's switch-to-configuration), run through one libssh2 session that
// is reused for the whole deploy of that machine.
#include "core/error.hpp"
#include "core/process.hpp"
#include "host/activation_protocol.hpp"
#include "host/host.hpp"
#include "host/paths.hpp"
#include "host/remote_commands.hpp"
#include "host/remote_scripts.hpp"
#include "nix/serve.hpp"
#include "ssh/ssh.hpp"
#include "state/state.hpp"

#include <atomic>
#include <charconv>
#include <fmt/format.h>
#include <regex>
#include <thread>
#include <unistd.h>

namespace fedi::host {

namespace {

// The activation's outcome cannot be learnt, and trying again would not change that.
struct ActivationUnknowable : Error {
    using Error::Error;
};

using WaitHandler = std::function<std::optional<std::string>()>;

// One activation being followed, across reconnects.
struct Follow {
    std::string id;
    std::string script; // the installed follow.sh
    int confirm_seconds = 0;
    LineHandler on_line;
    WaitHandler on_waiting;
    ActivationOutcome outcome;
    std::size_t lines = 0; // log lines received so far
    bool answered = false; // the confirmation (or abort) was written
    std::optional<std::optional<std::string>> health_verdict; // on_waiting's, once
};

class SshHost : public Host {
  public:
    SshHost(std::unique_ptr<ssh::Session> session, std::string label, ssh::ConnectOptions options)
        : session_(std::move(session)), label_(std::move(label)), options_(std::move(options)) {
        // A key accepted as new is trusted from now on: later connections (reconnects,
        // the confirmation) must see the same one.
        if (session_->host_key_is_new())
            options_.host_keys.trusted_keys.push_back(session_->host_key().openssh());
    }

    std::optional<std::string> newly_trusted_host_key() const override {
        if (!session_->host_key_is_new())
            return std::nullopt;
        return session_->host_key().openssh();
    }

    using Host::push_closure;
    PushProgress push_closure(nix::LocalClosure& closure,
                              const std::function<void(const PushProgress&)>& progress) override {
        const auto& roots = closure.roots();
        auto channel = session_->exec("nix-store --serve --write");
        PushProgress p;
        nix::PushOptions options;
        options.serve.remote_name = label_;
        options.serve.network_round_trip = session_->round_trip();
        options.serve.remote_stderr = [&channel] { return channel->stderr_text(); };
        options.serve.end_input = [&channel] { channel->close_input(); };
        options.lanes.open = [this] { return open_lane(); };
        try {
            auto stats = nix::push_closure(
                *channel, *channel, closure,
                [&](std::uint64_t bytes, std::size_t paths) {
                    p.bytes_sent = bytes;
                    p.paths_sent = paths;
                    if (progress)
                        progress(p);
                },
                options);
            p = to_progress(stats);
            channel->close_input();
            int status = channel->wait_exit_status();
            if (status != 0)
                throw Error(
                    fmt::format("nix-store --serve on the machine exited with status {}: {}",
                                status, channel->stderr_text()));
        } catch (Error& e) {
            e.with_context("pushing the closure of " +
                           (roots.empty() ? std::string("nothing") : roots.front()));
            throw;
        }
        return p;
    }

    SystemStatus system_status() override {
        // The pending confirmations are read from the activations' own state files, never
        // from their logs.
        auto r = session_->run(machine_status_command(pending_confirmations_command()));
        if (r.exit_status != 0)
            throw Error(fmt::format("cannot read the machine's system profile and the "
                                    "activations waiting for confirmation in {}: {}",
                                    kRuntimeActivationDir, r.err));
        auto out = split_machine_status(r.out);
        SystemStatus s = parse_system_status(out.status);
        for (const auto& p : parse_pending_confirmations(out.pending))
            s.reverts_in = s.reverts_in ? std::min(*s.reverts_in, p.seconds_left) : p.seconds_left;
        return s;
    }

    SecretSyncResult sync_secrets(const std::vector<SecretFile>& files) override {
        std::string stream = secret_sync_stream(files);
        WipeOnExit wipe_stream(stream);
        auto r = session_->run(secret_sync_command(!files.empty()), stream);
        if (r.exit_status != 0)
            throw Error(fmt::format("cannot write the secrets in {} (exit status {}): {}",
                                    kSecretsDir, r.exit_status, r.err));
        return parse_secret_sync_output(r.out);
    }

    CommandResult run(const std::string& command) override {
        auto r = session_->run(command);
        return {r.exit_status, r.out, r.err};
    }

    CommandResult run_streaming(const std::string& command, const LineHandler& on_out,
                                const LineHandler& on_err) override {
        auto r = session_->run(command, {}, on_out, on_err);
        return {r.exit_status, r.out, r.err};
    }

    CommandResult run_with_input(const std::string& command, const std::string& input) override {
        auto r = session_->run(command, input);
        return {r.exit_status, r.out, r.err};
    }

    std::vector<SecretInfo> list_secrets() override {
        auto r = session_->run(secret_list_command());
        if (r.exit_status != 0)
            throw Error(fmt::format("cannot list {} (exit status {}): {}", kSecretsDir,
                                    r.exit_status, r.err));
        return parse_secret_list(r.out);
    }

    ActivationOutcome activate(const ActivationRequest& request) override {
        ActivationCommand a;
        a.system = request.system;
        a.goal = model::to_string(request.goal);
        a.rollback = request.rollback;
        a.confirm_seconds = request.confirm_seconds;
        return run_detached(std::move(a), request.on_line, request.on_waiting);
    }

    ActivationOutcome rollback_generation(const LineHandler& on_line) override {
        ActivationCommand a;
        a.system = "-";
        a.goal = "rollback";
        a.rollback = false;
        return run_detached(std::move(a), on_line, {});
    }

    LockAnswer lock(const LockHolderRecord& me, std::chrono::seconds timeout,
                    const std::function<void(const LockHolderRecord&)>& on_held) override {
        lock_channel_.reset();
        lock_session_.reset();
        auto answer = take_lock(me, timeout, on_held, lock_session_, lock_channel_);
        lock_holder_ = me;
        return answer;
    }

    ActivationOutcome settle_activation(const std::string& id,
                                        const std::optional<std::string>& abort_reason,
                                        const LineHandler& on_line) override {
        if (abort_reason) {
            auto r = session_->run(abort_command(id), *abort_reason);
            if (r.exit_status != 0)
                throw Error(fmt::format("cannot ask activation {} to revert: {}", id, r.err));
        }
        Follow f{id, install_script(RemoteScript::Follow), 0, on_line, {}};
        f.answered = true; // never confirmed by this fedi: it is not ours
        return follow_to_end(f, std::chrono::seconds(120));
    }

  private:
    // Another connection running nix-store --serve --write, for a push over several.
    struct Lane : nix::ServeLane {
        std::unique_ptr<ssh::Session> session;
        std::unique_ptr<ssh::Channel> channel; // closes before its session
        Duplex& io() override { return *channel; }
        std::string remote_stderr() override { return channel->stderr_text(); }
        void finish() override {
            channel->close_input();
            if (int status = channel->wait_exit_status(); status != 0)
                throw Error(fmt::format("nix-store --serve on the machine exited with status "
                                        "{}: {}",
                                        status, channel->stderr_text()));
        }
    };

    std::unique_ptr<nix::ServeLane> open_lane() const {
        auto options = options_;
        // An extra lane that is slow to come is not worth waiting for long.
        options.connect_timeout = std::min(options.connect_timeout, std::chrono::seconds(5));
        auto lane = std::make_unique<Lane>();
        lane->session = ssh::Session::connect(options);
        lane->channel = lane->session->exec("nix-store --serve --write");
        return lane;
    }

    static PushProgress to_progress(const nix::PushStats& s) {
        return {s.paths_total, s.paths_sent, s.bytes_sent, s.nar_bytes};
    }

    // Installs the scripts, starts the activation detached and follows it to its result.
    ActivationOutcome run_detached(ActivationCommand a, const LineHandler& on_line,
                                   const WaitHandler& on_waiting) {
        a.script = install_script(RemoteScript::Activate);
        a.id = activation_id();
        Follow f{a.id, install_script(RemoteScript::Follow), a.confirm_seconds, on_line,
                 on_waiting};
        auto started = session_->run(start_activation_command(a));
        if (started.exit_status != 0)
            throw Error(fmt::format("cannot start the activation: {}", started.err));
        // How long to keep trying to get back in after a drop: the machine may be busy
        // reverting, which takes up to the confirmation time and an activation.
        return follow_to_end(f, std::chrono::seconds(a.confirm_seconds + 120));
    }

    // Follows an activation to its result, getting back in when the connection drops
    // (for up to `budget` from the first drop).
    ActivationOutcome follow_to_end(Follow& f, std::chrono::seconds budget) {
        std::optional<std::chrono::steady_clock::time_point> give_up;
        for (;;) {
            std::string follow_error;
            try {
                f.outcome.result = follow_once(f);
                return f.outcome;
            } catch (const ActivationUnknowable&) {
                throw;
            } catch (const Error& e) {
                follow_error = e.describe();
            }
            auto now = std::chrono::steady_clock::now();
            if (!give_up)
                give_up = now + budget;
            if (now > *give_up || !reconnect(*give_up))
                throw Error(fmt::format("lost the machine during activation {} and could not get "
                                        "back in to learn its outcome; it will be on its old or "
                                        "its new generation (see {}/{}.log there): {}",
                                        f.id, kActivationDir, f.id, follow_error));
            ++f.outcome.reconnects;
            retake_lock(f.outcome);
        }
    }

    // Runs lock.sh on a connection of its own (`session`, `channel`: kept open to hold the
    // lock). Throws MachineLockHeld when it is not ours within `timeout`.
    LockAnswer take_lock(const LockHolderRecord& me, std::chrono::seconds timeout,
                         const std::function<void(const LockHolderRecord&)>& on_held,
                         std::unique_ptr<ssh::Session>& session,
                         std::unique_ptr<ssh::Channel>& channel) {
        std::string script = install_script(RemoteScript::Lock);
        auto options = options_;
        options.idle_timeout = timeout + std::chrono::seconds(60);
        session = ssh::Session::connect(options);
        channel = session->exec(shell_join({"sh", script, std::to_string(timeout.count())}));
        channel->write(lock_holder_input(me));
        LockAnswer answer;
        std::string line;
        char c = 0;
        while (channel->read_some(&c, 1) == 1) {
            if (c != '\n') {
                line += c;
                continue;
            }
            bool more = answer.read(line);
            if (line == "held" && on_held && answer.held_by())
                on_held(*answer.held_by());
            line.clear();
            if (!more)
                break;
        }
        if (answer.timed_out())
            throw MachineLockHeld(answer.held_by(), timeout);
        if (!answer.ready())
            throw Error(fmt::format("could not take the machine's lock {}: {}", kMachineLock,
                                    channel->stderr_text()));
        return answer;
    }

    // After a reconnect: the drop may have ended the lock's connection too (sshd restarted
    // with KillMode=control-group ends every session); take the lock again unless it is
    // still ours. What cannot be done is a warning: the activation goes on regardless.
    void retake_lock(ActivationOutcome& outcome) {
        if (!lock_holder_)
            return;
        std::unique_ptr<ssh::Session> session;
        std::unique_ptr<ssh::Channel> channel;
        try {
            take_lock(*lock_holder_, std::chrono::seconds(0), {}, session, channel);
        } catch (const MachineLockHeld& e) {
            const auto& h = e.holder();
            if (!h || (h->host == lock_holder_->host && h->pid == lock_holder_->pid &&
                       h->since == lock_holder_->since))
                return; // still ours: its connection lived through the drop
            outcome.warnings.push_back(fmt::format(
                "the connection holding the machine's lock dropped, and {} took it meanwhile",
                describe_lock_holder(*h)));
            return;
        } catch (const Error& e) {
            outcome.warnings.push_back("could not take the machine's lock again after the "
                                       "connection dropped: " +
                                       e.describe());
            return;
        }
        lock_channel_ = std::move(channel);
        lock_session_ = std::move(session);
    }

    // One run of follow.sh: hands over the log, answers the wait for confirmation and
    // returns the result. Throws fedi::Error when it ends without one (to try again).
    ActivationResult follow_once(Follow& f) {
        // A fresh token per follow: only the script that got it on stdin can write
        // records; everything the activated system prints arrives framed as a log line.
        std::string token = new_follow_token();
        FollowReader reader(token);
        session_->set_idle_timeout(follow_stall_timeout(f.confirm_seconds));
        auto r = session_->run(follow_command(f.script, f.id, f.lines), token + "\n",
                               [&](const std::string& line) { on_record(f, reader.read(line)); });
        session_->set_idle_timeout(options_.idle_timeout);
        FollowRecord end;
        try {
            end = reader.end(!r.out.empty() && r.out.back() == '\n');
        } catch (const Error& e) {
            throw Error(fmt::format("following the activation ended without a result (exit "
                                    "status {}): {}{}",
                                    r.exit_status, e.message(), r.err.empty() ? "" : "; " + r.err));
        }
        return activation_result(f.id, end);
    }

    void on_record(Follow& f, const FollowRecord& rec) {
        switch (rec.kind) {
        case FollowRecord::Kind::Log:
            ++f.lines;
            if (f.on_line)
                f.on_line(rec.text);
            break;
        case FollowRecord::Kind::Waiting:
            // Once written, never again; a confirmation that could not be written is
            // tried again after a reconnect (the follow says "waiting" again) while the
            // window lasts.
            if (!f.answered)
                f.answered = answer_confirmation(f.id, f.on_waiting, f.health_verdict);
            break;
        case FollowRecord::Kind::Fallback:
            if (f.outcome.warnings.empty())
                f.outcome.warnings.push_back(
                    fmt::format("{} on the machine cannot be written (full or read-only?); the "
                                "activation's log and result were kept in {}",
                                rec.text, kRuntimeActivationDir));
            break;
        default: // the end is read at the end; ticks and noise say nothing
            break;
        }
    }

    // The result the follow ended with. Answers that another try would not change are
    // said at once, not after the reconnect budget.
    ActivationResult activation_result(const std::string& id, const FollowRecord& end) {
        if (end.kind == FollowRecord::Kind::EmptyResult)
            throw ActivationUnknowable(fmt::format(
                "activation {} left an empty result file ({}) on the machine: its disk is most "
                "likely full{}; the machine is on its old or its new generation (see the log "
                "beside it)",
                id, end.text, disk_usage_note()));
        if (end.kind == FollowRecord::Kind::Died)
            throw ActivationUnknowable(fmt::format(
                "activation {} died before it wrote its result (killed?); the machine is on its "
                "old or its new generation (see {} there)",
                id, end.text));
        if (end.kind == FollowRecord::Kind::Unknown)
            throw ActivationUnknowable(fmt::format(
                "the machine has no record of activation {} (neither {} nor {} holds its log): "
                "it did not start, or the machine lost it{}",
                id, kActivationDir, kRuntimeActivationDir, disk_usage_note()));
        auto result = parse_activation_result(end.text);
        if (!result)
            throw ActivationUnknowable(
                fmt::format("activation {} ended with the result \"{}\", which this fedi cannot "
                            "read; the machine is on its old or its new generation (see {}/{}.log "
                            "there)",
                            id, end.text, kActivationDir, id));
        return *result;
    }

    // "; /var/lib has N% in use ..." when the machine says so (best effort, for messages).
    std::string disk_usage_note() {
        try {
            auto r = session_->run(disk_usage_command());
            if (r.exit_status == 0 && !r.out.empty())
                return " (" + r.out + ")";
        } catch (const Error&) {
        }
        return "";
    }

    // Confirms over a NEW connection: that the new system still lets fedi in is the
    // point. A failed connection confirms nothing, and the machine reverts by itself.
    // Returns whether the answer (confirm or abort) was written. on_waiting (the health
    // checks) runs once; `verdict` keeps its answer for a second try.
    bool answer_confirmation(const std::string& id, const WaitHandler& on_waiting,
                             std::optional<std::optional<std::string>>& verdict) {
        if (!verdict)
            verdict.emplace(on_waiting ? on_waiting() : std::nullopt);
        const std::optional<std::string>& abort_reason = *verdict;
        try {
            auto fresh = ssh::Session::connect(options_);
            auto r = abort_reason ? fresh->run(abort_command(id), *abort_reason)
                                  : fresh->run(confirm_command(id));
            return r.exit_status == 0;
        } catch (const Error&) {
            if (!abort_reason)
                return false; // not confirmed; the machine reverts when its wait runs out
            try {             // the old connection can still ask for the revert
                return session_->run(abort_command(id), *abort_reason).exit_status == 0;
            } catch (const Error&) {
                return false;
            }
        }
    }

    // After a dropped connection: connect again until `until`. Returns false when the
    // machine cannot be reached again by then.
    bool reconnect(std::chrono::steady_clock::time_point until) {
        while (std::chrono::steady_clock::now() < until) {
            try {
                session_ = ssh::Session::connect(options_);
                return true;
            } catch (const Error&) {
                std::this_thread::sleep_for(std::chrono::seconds(1));
            }
        }
        return false;
    }

    std::string install_script(RemoteScript script) {
        std::string content = remote_script(script);
        std::string path = installed_script_path(file_name(script), content);
        auto r = session_->run(install_script_command(path), content);
        if (r.exit_status != 0)
            throw Error(fmt::format("cannot install {} on the machine: {}", path, r.err));
        return path;
    }

    static std::string activation_id() {
        static std::atomic<unsigned> counter{0};
        return fmt::format("{}-{}-{}", state::now_utc(), getpid(), counter++);
    }

    std::unique_ptr<ssh::Session> session_;
    std::string label_;
    ssh::ConnectOptions options_;
    // The machine's lock, held by lock.sh for as long as this channel is open (declared
    // after its session, so it closes first).
    std::unique_ptr<ssh::Session> lock_session_;
    std::unique_ptr<ssh::Channel> lock_channel_;
    std::optional<LockHolderRecord> lock_holder_; // this fedi, once it took the lock
};

} // namespace

SystemStatus parse_system_status(const std::string& out) {
    SystemStatus s;
    std::smatch m;
    static const std::regex profile_re("profile=(.*)"), link_re("link=system-([0-9]+)-link"),
        current_re("current=(.*)");
    std::size_t pos = 0, nl;
    while ((nl = out.find('\n', pos)) != std::string::npos) {
        std::string line = out.substr(pos, nl - pos);
        pos = nl + 1;
        if (std::regex_match(line, m, link_re)) {
            int generation = 0;
            const std::string digits = m[1];
            auto [end, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), generation);
            if (ec != std::errc() || end != digits.data() + digits.size())
                throw Error(fmt::format("the machine's system profile points to \"{}\", whose "
                                        "generation number is out of range",
                                        line.substr(5)));
            s.generation = generation;
        } else if (std::regex_match(line, m, profile_re))
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

PushProgress Host::push_closure(const std::vector<std::string>& roots,
                                const std::function<void(const PushProgress&)>& progress) {
    nix::LocalClosure closure(roots);
    return push_closure(closure, progress);
}

ConnectSettings settings_for(const model::Machine& m, std::vector<std::string> trusted_keys) {
    ConnectSettings settings;
    settings.target = m.ssh;
    settings.label = m.name;
    settings.trusted_keys = std::move(trusted_keys);
    return settings;
}

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
    o.compress = settings.compress;
    o.connect_timeout = settings.connect_timeout;
    o.idle_timeout = settings.idle_timeout;
    o.label = settings.label;
    auto session = ssh::Session::connect(o);
    return std::make_unique<SshHost>(std::move(session), settings.label, o);
}

} // namespace fedi::host
