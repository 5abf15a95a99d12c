#include "host/activation_protocol.hpp"

#include "core/random.hpp"
#include "host/activation_scripts.hpp"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>

namespace fedi::host {

namespace {

// Parses a whole (optionally negative) decimal number; nothing else.
bool parse_long(const std::string& s, long& out) {
    if (s.empty())
        return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

// A revert takes an activation at most this long; a wait past its deadline by more was
// left over by an activation that was killed.
constexpr long kStaleWaitingSeconds = 600;

} // namespace

std::string new_follow_token() {
    return random_alphanumeric(32);
}

FollowRecord parse_follow_line(const std::string& line, const std::string& token) {
    FollowRecord r;
    if (line.rfind("| ", 0) == 0 || line == "|") {
        r.kind = FollowRecord::Kind::Log;
        r.text = line.size() > 2 ? line.substr(2) : "";
        return r;
    }
    // "@TOKEN KIND [ARG]": an empty token would let anything through; refuse it.
    std::string prefix = "@" + token + " ";
    if (token.empty() || line.rfind(prefix, 0) != 0) {
        r.text = line;
        return r;
    }
    std::string rest = line.substr(prefix.size());
    auto space = rest.find(' ');
    std::string kind = rest.substr(0, space);
    std::string arg = space == std::string::npos ? "" : rest.substr(space + 1);
    if (kind == "result") {
        r.kind = arg.empty() ? FollowRecord::Kind::EmptyResult : FollowRecord::Kind::Result;
        r.text = arg;
    } else if (kind == "result-empty") {
        r.kind = FollowRecord::Kind::EmptyResult;
        r.text = arg;
    } else if (kind == "waiting" && parse_long(arg, r.seconds)) {
        r.kind = FollowRecord::Kind::Waiting;
    } else if (kind == "fallback") {
        r.kind = FollowRecord::Kind::Fallback;
        r.text = arg;
    } else if (kind == "tick" && arg.empty()) {
        r.kind = FollowRecord::Kind::Tick;
    } else if (kind == "unknown" && arg.empty()) {
        r.kind = FollowRecord::Kind::Unknown;
    } else {
        r.text = line;
    }
    return r;
}

std::chrono::seconds follow_stall_timeout(int confirm_seconds) {
    if (confirm_seconds <= 0) // no window to fit in
        return std::chrono::seconds(10);
    return std::chrono::seconds(std::clamp(confirm_seconds / 3, 2, 10));
}

std::string pending_confirmations_command() {
    // ID.waiting holds the time (seconds since the epoch) at which the machine reverts;
    // activate.sh removes it when it finishes (reverted or confirmed).
    return fmt::format("now=$(date +%s); for f in {0}/*.waiting; do "
                       "[ -s \"$f\" ] || continue; id=${{f##*/}}; id=${{id%.waiting}}; "
                       "d=$(head -n 1 \"$f\"); case $d in ''|*[!0-9]*) continue ;; esac; "
                       "echo \"$id $((d - now))\"; done; exit 0",
                       kRuntimeActivationDir);
}

std::vector<PendingConfirmation> parse_pending_confirmations(const std::string& out) {
    std::vector<PendingConfirmation> pending;
    std::size_t pos = 0;
    while (pos < out.size()) {
        auto nl = out.find('\n', pos);
        std::string line = out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? out.size() : nl + 1;
        auto space = line.find(' ');
        if (space == std::string::npos || space == 0)
            continue;
        PendingConfirmation p;
        p.id = line.substr(0, space);
        // Long past its deadline: left over by an activation that was killed.
        if (!parse_long(line.substr(space + 1), p.seconds_left) ||
            p.seconds_left <= -kStaleWaitingSeconds)
            continue;
        pending.push_back(std::move(p));
    }
    return pending;
}

} // namespace fedi::host
