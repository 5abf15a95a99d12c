#include "host/machine_lock.hpp"

#include "host/host.hpp"

#include <charconv>
#include <fmt/format.h>

namespace fedi::host {

namespace {

long to_long(const std::string& s) {
    long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() ? v : 0;
}

std::string one_line(std::string s) {
    for (char& c : s)
        if (c == '\n' || c == '\r')
            c = ' ';
    return s;
}

std::string field(const std::map<std::string, std::string>& f, const std::string& key) {
    auto it = f.find(key);
    return it == f.end() ? "" : it->second;
}

LockHolderRecord holder_from(const std::map<std::string, std::string>& f) {
    LockHolderRecord h;
    h.host = field(f, "host");
    h.user = field(f, "user");
    h.pid = to_long(field(f, "pid"));
    h.command = field(f, "command");
    h.since = field(f, "since");
    h.keeper = to_long(field(f, "keeper"));
    h.activation = field(f, "activation");
    return h;
}

RunningActivation activation_from(const std::string& id,
                                  const std::map<std::string, std::string>& f) {
    RunningActivation a;
    a.id = id;
    a.system = field(f, "system");
    a.goal = field(f, "goal");
    a.pid = to_long(field(f, "activation-pid"));
    a.started = field(f, "started");
    if (f.count("reverts-in"))
        a.reverts_in = to_long(field(f, "reverts-in"));
    a.started_by = holder_from(f);
    return a;
}

// "KEY=VALUE" into `fields` (a later line of the same key wins: lock.sh appends).
void add_field(std::map<std::string, std::string>& fields, const std::string& kv) {
    auto eq = kv.find('=');
    if (eq != std::string::npos && eq > 0)
        fields[kv.substr(0, eq)] = kv.substr(eq + 1);
}

} // namespace

std::string lock_holder_input(const LockHolderRecord& h) {
    return fmt::format("host={}\nuser={}\npid={}\ncommand={}\nsince={}\n\n", one_line(h.host),
                       one_line(h.user), h.pid, one_line(h.command), one_line(h.since));
}

std::string describe_lock_holder(const LockHolderRecord& h) {
    std::string text = h.pid ? fmt::format("fedi pid {}", h.pid) : "a fedi";
    if (!h.host.empty())
        text += " on " + h.host;
    if (!h.user.empty())
        text += fmt::format(" (user {})", h.user);
    if (!h.command.empty())
        text += fmt::format(", `{}`", h.command);
    if (!h.since.empty())
        text += ", since " + h.since;
    if (!h.activation.empty())
        text += ", activation " + h.activation;
    return text;
}

bool LockAnswer::read(const std::string& line) {
    auto space = line.find(' ');
    std::string kind = line.substr(0, space);
    std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    if (kind == "holder") {
        add_field(holder_lines_, rest);
    } else if (kind == "held" || kind == "stale") {
        (kind == "held" ? held_by_ : stale_) = holder_from(holder_lines_);
        holder_lines_.clear();
    } else if (kind == "locked") {
        keeper_ = to_long(rest);
    } else if (kind == "activation") {
        auto sp = rest.find(' ');
        std::string id = rest.substr(0, sp);
        if (!activation_lines_.count(id))
            activation_order_.push_back(id);
        add_field(activation_lines_[id], sp == std::string::npos ? "" : rest.substr(sp + 1));
    } else if (kind == "timeout") {
        timed_out_ = true;
        return false;
    } else if (kind == "ready") {
        for (const auto& id : activation_order_)
            running_.push_back(activation_from(id, activation_lines_.at(id)));
        ready_ = true;
        return false;
    }
    return true;
}

MachineLockHeld::MachineLockHeld(const std::optional<LockHolderRecord>& holder,
                                 std::chrono::seconds waited)
    : Error(fmt::format(
          "the machine is locked by another deployer: {}{}",
          holder ? describe_lock_holder(*holder) : std::string("(its record is not written yet)"),
          waited.count() > 0
              ? fmt::format("; still held after waiting {} s (--lock-timeout)", waited.count())
              : std::string("; --lock-timeout SECONDS waits for it"))),
      holder_(holder) {}

namespace {

std::string describe_activation(const RunningActivation& a) {
    std::string state = !a.reverts_in       ? "still running"
                        : *a.reverts_in > 0 ? fmt::format("awaiting confirmation (it reverts in "
                                                          "{} s)",
                                                          *a.reverts_in)
                                            : "reverting";
    return fmt::format("activation {} ({} {}), started by {} at {}, is {}", a.id, a.goal, a.system,
                       describe_lock_holder(a.started_by), a.started, state);
}

// Waits for an earlier activation to end, or aborts it first, and says which.
void settle(Host& host, const TakeMachine& take, const RunningActivation& a) {
    // Only a switch or a test waits for a confirmation, and so can be told to revert.
    bool revertible = a.goal == "switch" || a.goal == "test";
    bool abort = take.system && a.system != *take.system && revertible;
    if (take.warn)
        take.warn(describe_activation(a) +
                  (abort ? "; it activates another system: aborting it (it reverts to what ran "
                           "before), then deploying"
                         : "; waiting for it to end before changing the machine"));
    std::optional<std::string> reason;
    if (abort)
        reason = fmt::format("superseded by {}", describe_lock_holder(take.holder));
    try {
        auto outcome = host.settle_activation(a.id, reason, take.on_line);
        if (take.info)
            take.info(fmt::format("earlier activation {} ended: {}", a.id, outcome.result.text));
    } catch (const Error& e) {
        if (take.warn)
            take.warn(fmt::format("earlier activation {}: {}", a.id, e.describe()));
    }
}

} // namespace

void take_machine(Host& host, const TakeMachine& take) {
    auto answer = host.lock(take.holder, take.timeout, [&](const LockHolderRecord& holder) {
        if (take.warn && take.timeout.count() > 0)
            take.warn(fmt::format("the machine is locked by {}; waiting up to {} s for it",
                                  describe_lock_holder(holder), take.timeout.count()));
    });
    if (answer.stale() && take.warn)
        take.warn(fmt::format("the machine's lock was left by {}, which is gone (killed, or the "
                              "machine rebooted); taking it over",
                              describe_lock_holder(*answer.stale())));
    for (const auto& a : answer.running())
        settle(host, take, a);
}

} // namespace fedi::host
