#include "deploy/activation_failure.hpp"

#include <fmt/format.h>

namespace fedi::deploy {

std::string describe_revert(const std::vector<std::string>& lines) {
    std::vector<std::string> done, not_done;
    for (const auto& l : lines) {
        static const std::string profile_back = "fedi: setting the profile back to generation ";
        static const std::string activating = "fedi: activating the previous system ";
        if (l.rfind(profile_back, 0) == 0)
            done.push_back("the system profile was set back to generation " +
                           l.substr(profile_back.size()));
        else if (l.rfind("fedi: there was no earlier generation", 0) == 0)
            not_done.push_back("the system profile still points at the failed system (it had no "
                               "earlier generation)");
        else if (l.rfind(activating, 0) == 0)
            done.push_back("the previously running system " + l.substr(activating.size()) +
                           " was activated again");
        else if (l.rfind("fedi: no previous running system", 0) == 0)
            not_done.push_back("what the failed system's activation changed was not undone (no "
                               "system ran before it: the machine had no /run/current-system)");
    }
    if (done.empty() && not_done.empty())
        return "the machine went back to its previous system";
    std::string out;
    for (const auto& d : done)
        out += (out.empty() ? "" : "; ") + d;
    for (const auto& n : not_done)
        out += (out.empty() ? "" : "; but ") + n;
    return out;
}

std::string describe_failed_activation(model::Goal goal, const host::ActivationOutcome& outcome,
                                       const std::optional<std::string>& health_failure,
                                       const std::vector<std::string>& revert_lines) {
    const auto& r = outcome.result;
    std::string what;
    if (health_failure)
        what = *health_failure;
    else if (r.rfind("failed", 0) == 0)
        what = fmt::format("switch-to-configuration {} failed (exit status {})", to_string(goal),
                           r.substr(7, r.find_first_of(", ", 7) - 7));
    else if (r.rfind("unconfirmed", 0) == 0)
        what = "the new system could not be confirmed over a new SSH connection in time";
    else
        what = "activation " + r;
    if (r.find("rollback failed") != std::string::npos)
        return what + "; rolling back failed too: the machine needs attention";
    if (outcome.rolled_back())
        return what + "; rolled back: " + describe_revert(revert_lines);
    return what + "; the failed system was left in place (--no-rollback)";
}

} // namespace fedi::deploy
