#pragma once
// What the follow script (activation_scripts.hpp) prints, read back. The activated
// system's output is never protocol: every log line arrives framed as "| LINE", and the
// script's own records are "@TOKEN KIND [ARG]", where TOKEN is a random value fedi hands
// the script on its stdin for this one follow. Anything a system prints is framed, and it
// cannot know the token, so it cannot forge a record (a result, "waiting").
#include <chrono>
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
        Noise,       // anything else: not framed, or a record with a wrong token
    };
    Kind kind = Kind::Noise;
    std::string text;
    long seconds = 0;
};

FollowRecord parse_follow_line(const std::string& line, const std::string& token);

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
