// `fedi state` results for a terminal, from the JSON that --json prints (one source).
#include "statecmd/state_command.hpp"
#include "ui/output.hpp"

#include <fmt/format.h>

namespace fedi::statecmd {

namespace {

std::string text_or(const nlohmann::json& j, const char* key, const char* none) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(none);
}

std::string render_locks(const nlohmann::json& r) {
    const auto& locks = r.at("locks");
    if (locks.empty())
        return r.at("remote").get<bool>()
                   ? "no lock is held\n"
                   : "none listed: a local state file's lock belongs to the fedi process "
                     "holding it and ends with it\n";
    std::vector<std::vector<std::string>> rows{{"ID", "SCOPE", "HOLDER", "COMMAND", "SINCE"}};
    for (const auto& h : locks)
        rows.push_back(
            {h.at("id"), h.at("scope"),
             fmt::format("pid {} on {} (user {})", h.at("pid").get<long>(),
                         h.at("host").get<std::string>(), h.at("user").get<std::string>()),
             h.at("command"), h.at("since")});
    return ui::render_table(rows);
}

std::string render_show(const nlohmann::json& r) {
    auto out = fmt::format("state:   {}\nversion: {}\nkept:    {}{}\n",
                           r.at("location").get<std::string>(), text_or(r, "version", "(none)"),
                           r.at("kept").get<std::string>(),
                           r.at("encrypted").get<bool>() ? " (stored encrypted)" : "");
    out += "locks:   " + render_locks(r);
    if (r.at("state").is_null())
        return out + "no state has been written yet\n";
    if (r.at("secrets") == "masked")
        out += fmt::format("secrets: shown as {} (--reveal shows them)\n", masked_secret);
    return out + "\n" + r.at("state").dump(2) + "\n";
}

std::string render_history(const nlohmann::json& r) {
    const auto& versions = r.at("versions");
    auto where = r.at("location").get<std::string>();
    if (versions.empty())
        return r.at("remote").get<bool>()
                   ? fmt::format("no versions listed for the state {}\n", where)
                   : fmt::format("the local state file {} keeps no history: only its current "
                                 "version exists\n",
                                 where);
    std::vector<std::vector<std::string>> rows{{"VERSION", "WRITTEN", "BY"}};
    for (const auto& v : versions)
        rows.push_back({v.at("version"), v.at("written_at"), v.at("written_by")});
    return ui::render_table(rows);
}

std::string render_pull(const nlohmann::json& r) {
    auto file = r.at("file").get<std::string>();
    auto version = r.at("version").get<std::string>();
    return fmt::format(
        "wrote version {} of the state {} to {} ({}, mode 0600)\nto put it back only if "
        "nobody changed the state meanwhile: fedi state push {} --expect-version {}\n",
        version, r.at("location").get<std::string>(), file,
        r.at("encrypted").get<bool>() ? "encrypted with age, as stored" : "plain JSON", file,
        version);
}

std::string render_migrate(const nlohmann::json& r) {
    return fmt::format("copied the state {} to {} (version {}, kept {})\nuse it with `fedi {} "
                       "...`, or in the deployment: {}\nthe state {} is left as it was; remove "
                       "it once everyone uses the new one\n",
                       r.at("from").get<std::string>(), r.at("to").get<std::string>(),
                       r.at("version").get<std::string>(), r.at("kept").get<std::string>(),
                       r.at("use").at("option").get<std::string>(),
                       r.at("use").at("deployment").get<std::string>(),
                       r.at("from").get<std::string>());
}

} // namespace

std::string render_state_result(StateAction action, const nlohmann::json& r) {
    switch (action) {
    case StateAction::Show:
        return render_show(r);
    case StateAction::History:
        return render_history(r);
    case StateAction::Locks:
        return render_locks(r);
    case StateAction::Pull:
        return render_pull(r);
    case StateAction::Push:
        return fmt::format("replaced the state {} with {} (version {})\n",
                           r.at("location").get<std::string>(), r.at("file").get<std::string>(),
                           r.at("version").get<std::string>());
    case StateAction::Migrate:
        return render_migrate(r);
    case StateAction::Unlock:
        return fmt::format("broke lock {} of the state {}\n",
                           r.at("unlocked").at("id").get<std::string>(),
                           r.at("location").get<std::string>());
    }
    return {};
}

} // namespace fedi::statecmd
