#pragma once
// What the activation scripts (resources/host/activate.sh, follow.sh) print, read back. The
// activated system's output is never protocol: every log line arrives framed as "| LINE", and the
// script's own records are "@TOKEN KIND [ARG]", where TOKEN is a random value fedi hands
// the script on its stdin for this one follow. Anything a system prints is framed, and it
// cannot know the token, so it cannot forge a record (a result, "waiting").
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace fedi::host {

// A fresh unguessable token (letters and digits from the kernel's generator).
std::string new_follow_token();

struct FollowRecord {
    enum class Kind {
        Log,         // text: one line of the activation's log
        Waiting,     // seconds: the new system runs; it reverts unless confirmed by then
        Result,      // text: what the machine wrote ("ok", "failed 1, rolled back", ...)
        EmptyResult, // text: the result file exists but is empty (its disk filled up)
        Fallback,    // text: the directory that could not be written; log and result
                     // were kept under /run instead
        Tick,        // the script is alive (sent every second or so while following)
        Unknown,     // the machine has no record of this activation
        Died,        // text: its log; the activation ended without a result (killed)
        Noise,       // anything else: not framed, or a record with a wrong token
    };
    Kind kind = Kind::Noise;
    std::string text;
    long seconds = 0;
};

FollowRecord parse_follow_line(const std::string& line, const std::string& token);

// One follow's output, line by line as it arrives, and how it ended.
class FollowReader {
  public:
    explicit FollowReader(std::string token) : token_(std::move(token)) {}
    // A line of the follow's stdout: its record, remembered when it ends the follow
    // (a result, an empty result, an unknown or dead activation).
    FollowRecord read(const std::string& line);
    // The follow's command ended; `ended_with_newline`: its stdout's last byte was a
    // newline (a line cut short is not a record). Returns the record that ended it, or
    // throws fedi::Error saying how the output stopped short of one.
    FollowRecord end(bool ended_with_newline) const;

  private:
    std::string token_;
    std::optional<FollowRecord> end_;
    bool end_is_last_ = false; // no line came after the one that ended the follow
    std::string last_line_;    // the last line read
    std::size_t log_lines_ = 0;
};

// What activate.sh wrote as the activation's result, parsed.
struct ActivationResult {
    enum class Status {
        Ok,          // "ok"
        Failed,      // "failed RC[ (DETAIL)]": switch-to-configuration (or a step before it)
        Unconfirmed, // "unconfirmed": no confirmation came in time
        Aborted,     // "aborted": fedi asked it to revert (a health check failed)
    };
    Status status = Status::Ok;
    std::optional<int> exit_code; // Failed: the failed step's exit status
    std::string detail;           // Failed: what failed before switch-to-configuration ran
    bool rolled_back = false;     // ", rolled back": it went back to what ran before
    bool rollback_failed = false; // ", rollback failed": going back failed too
    std::string text;             // as the machine wrote it

    bool ok() const { return status == Status::Ok; }
};
// Nothing when `text` is not a result activate.sh writes.
std::optional<ActivationResult> parse_activation_result(const std::string& text);

// A step of going back to what ran before, as activate.sh reports it in the log
// ("fedi: setting the profile back to generation 41", ...).
struct RevertStep {
    enum class Kind {
        ProfileSetBack,          // value: the generation the profile points at again
        NoEarlierGeneration,     // the profile had no earlier generation to go back to
        PreviousSystemActivated, // value: the system that ran before, activated again
        NoPreviousSystem,        // no system ran before (no /run/current-system)
    };
    Kind kind = Kind::ProfileSetBack;
    std::string value;
};
// The revert steps among an activation's log lines (other lines are left out).
std::vector<RevertStep> parse_revert_steps(const std::vector<std::string>& log_lines);

// How long a follow may go without a line (the script ticks every second) before fedi
// drops the connection and gets back in: well inside the confirmation window, so a
// stalled connection is replaced in time to confirm rather than becoming a rollback.
std::chrono::seconds follow_stall_timeout(int confirm_seconds);

// One line of `pending_confirmations_command()`: an activation waiting for confirmation.
struct PendingConfirmation {
    std::string id;
    long seconds_left = 0; // <= 0: its time is up and it is reverting now
};
// A command listing the activations that wait for confirmation on the machine now, as
// "ID SECONDS_LEFT" lines; parse its output with parse_pending_confirmations.
std::string pending_confirmations_command();
std::vector<PendingConfirmation> parse_pending_confirmations(const std::string& out);

} // namespace fedi::host
