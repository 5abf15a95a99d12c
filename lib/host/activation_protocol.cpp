#include "host/activation_protocol.hpp"

#include "core/error.hpp"
#include "core/random.hpp"
#include "host/remote_scripts.hpp"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <string_view>
#include <utility>

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
    } else if (kind == "died" && !arg.empty()) {
        r.kind = FollowRecord::Kind::Died;
        r.text = arg;
    } else {
        r.text = line;
    }
    return r;
}

FollowRecord FollowReader::read(const std::string& line) {
    FollowRecord rec = parse_follow_line(line, token_);
    last_line_ = line;
    if (rec.kind == FollowRecord::Kind::Log)
        ++log_lines_;
    bool ends = rec.kind == FollowRecord::Kind::Result ||
                rec.kind == FollowRecord::Kind::EmptyResult ||
                rec.kind == FollowRecord::Kind::Unknown || rec.kind == FollowRecord::Kind::Died;
    if (end_)
        end_is_last_ = false;
    else if (ends) {
        end_ = rec;
        end_is_last_ = true;
    }
    return rec;
}

FollowRecord FollowReader::end(bool ended_with_newline) const {
    // The transport hands over a last line without its newline too: such a line was cut
    // short ("result failed 12" read as "result failed 1"), and is no record.
    if (end_ && (ended_with_newline || !end_is_last_))
        return *end_;
    if (!ended_with_newline && !last_line_.empty())
        throw Error(fmt::format("the follow's output stopped in the middle of a line (\"{}\"), "
                                "after {} log line(s), before the activation's result",
                                last_line_, log_lines_));
    throw Error(fmt::format("the follow's output stopped after {} log line(s), before the "
                            "activation's result",
                            log_lines_));
}

namespace {

// "RC" or "RC (DETAIL)" after "failed ".
bool parse_failure(const std::string& s, ActivationResult& r) {
    auto space = s.find(' ');
    long code = 0;
    if (!parse_long(s.substr(0, space), code) || code < 0 || code > 255)
        return false;
    r.exit_code = static_cast<int>(code);
    if (space == std::string::npos)
        return true;
    std::string detail = s.substr(space + 1);
    if (detail.size() < 2 || detail.front() != '(' || detail.back() != ')')
        return false;
    r.detail = detail.substr(1, detail.size() - 2);
    return true;
}

} // namespace

std::optional<ActivationResult> parse_activation_result(const std::string& text) {
    using Status = ActivationResult::Status;
    ActivationResult r;
    r.text = text;
    std::string head = text;
    for (auto [suffix, flag] : {std::pair{", rolled back", &r.rolled_back},
                                std::pair{", rollback failed", &r.rollback_failed}}) {
        std::string_view tail(suffix);
        if (head.size() > tail.size() &&
            head.compare(head.size() - tail.size(), tail.size(), tail.data(), tail.size()) == 0) {
            head.resize(head.size() - tail.size());
            *flag = true;
        }
    }
    bool reverted = r.rolled_back || r.rollback_failed;
    if (head == "ok" && !reverted)
        r.status = Status::Ok;
    else if ((head == "unconfirmed" || head == "aborted") && reverted)
        r.status = head == "aborted" ? Status::Aborted : Status::Unconfirmed;
    else if (head.rfind("failed ", 0) == 0 && parse_failure(head.substr(7), r))
        r.status = Status::Failed;
    else
        return std::nullopt;
    return r;
}

std::vector<RevertStep> parse_revert_steps(const std::vector<std::string>& log_lines) {
    static const std::pair<std::string, RevertStep::Kind> prefixes[] = {
        {"fedi: setting the profile back to generation ", RevertStep::Kind::ProfileSetBack},
        {"fedi: there was no earlier generation", RevertStep::Kind::NoEarlierGeneration},
        {"fedi: activating the previous system ", RevertStep::Kind::PreviousSystemActivated},
        {"fedi: no previous running system", RevertStep::Kind::NoPreviousSystem}};
    std::vector<RevertStep> steps;
    for (const auto& line : log_lines)
        for (const auto& [prefix, kind] : prefixes)
            if (line.rfind(prefix, 0) == 0) {
                bool has_value = kind == RevertStep::Kind::ProfileSetBack ||
                                 kind == RevertStep::Kind::PreviousSystemActivated;
                steps.push_back({kind, has_value ? line.substr(prefix.size()) : ""});
                break;
            }
    return steps;
}

std::chrono::seconds follow_stall_timeout(int confirm_seconds) {
    if (confirm_seconds <= 0) // no window to fit in
        return std::chrono::seconds(10);
    return std::chrono::seconds(std::clamp(confirm_seconds / 3, 2, 10));
}

std::string pending_confirmations_command() {
    return remote_script(RemoteScript::PendingConfirmations);
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
