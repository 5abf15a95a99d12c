#include "statecmd/state_command.hpp"

#include "account/records.hpp"
#include "core/error.hpp"
#include "state/state.hpp"
#include "storage/storage_state.hpp"

#include <fmt/format.h>

namespace fedi::statecmd {

const char* const masked_secret = "********";

namespace {

nlohmann::json holder_json(const statestore::LockHolder& h) {
    return {{"id", h.id},   {"scope", h.scope},     {"host", h.host},  {"user", h.user},
            {"pid", h.pid}, {"command", h.command}, {"since", h.since}};
}

nlohmann::json locks_json(statestore::Backend& backend) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& h : backend.locks())
        out.push_back(holder_json(h));
    return out;
}

// Each module that records secrets masks its own.
nlohmann::json masked(state::State st) {
    account::mask_secrets(st, masked_secret);
    storage::mask_secrets(st, masked_secret);
    return state::to_json(st);
}

struct Opened {
    std::unique_ptr<statestore::Backend> backend;
    std::unique_ptr<statestore::Codec> codec;
};

Opened open_state(const session::ProjectOptions& project, const std::string& command_line) {
    statestore::BackendOptions options;
    options.command_line = command_line;
    return {statestore::open_backend(session::resolve_state_location(project), options),
            session::project_codec(project)};
}

nlohmann::json migrate(const StateOptions& opts, Opened& from,
                       const statestore::LockRequest& lock) {
    auto target = opts.project;
    target.state_file = opts.to;
    if (session::resolve_state_location(target) == session::resolve_state_location(opts.project))
        throw usage_error(fmt::format("fedi state migrate: the state is already at {}",
                                      session::resolve_state_location(target)));
    auto to = open_state(target, opts.command_line);
    return migrate_state({*from.backend, *from.codec}, {*to.backend, *to.codec}, opts.to,
                         opts.force, lock);
}

} // namespace

nlohmann::json run_state_command(const StateOptions& opts, const Confirm& confirm) {
    auto opened = open_state(opts.project, opts.command_line);
    auto& backend = *opened.backend;
    statestore::LockRequest lock;
    lock.command = opts.command_line;
    switch (opts.action) {
    case StateAction::Show:
        return show_state(backend, *opened.codec, opts.reveal);
    case StateAction::History:
        return state_history(backend);
    case StateAction::Locks:
        return state_locks(backend);
    case StateAction::Pull:
        return pull_state(backend, opts.file, opts.version);
    case StateAction::Push:
        return push_state(backend, *opened.codec, opts.file, opts.expect_version, lock, confirm);
    case StateAction::Migrate:
        return migrate(opts, opened, lock);
    case StateAction::Unlock:
        return unlock_state(backend, opts.lock_id, confirm);
    }
    throw Error("internal: unknown fedi state action");
}

nlohmann::json show_state(statestore::Backend& backend, statestore::Codec& codec, bool reveal) {
    auto stored = backend.read();
    nlohmann::json out = {{"location", backend.where()},
                          {"remote", backend.remote()},
                          {"kept", codec.describe()},
                          {"version", nullptr},
                          {"encrypted", false},
                          {"locks", locks_json(backend)},
                          {"secrets", reveal ? "revealed" : "masked"},
                          {"state", nullptr}};
    if (!stored)
        return out;
    out["version"] = stored->version;
    out["encrypted"] = statestore::is_age_encrypted(stored->bytes);
    auto st = state::parse(codec.open(stored->bytes, backend.where()), backend.where());
    out["state"] = reveal ? state::to_json(st) : masked(std::move(st));
    return out;
}

nlohmann::json state_history(statestore::Backend& backend) {
    nlohmann::json versions = nlohmann::json::array();
    for (const auto& e : backend.history())
        versions.push_back(
            {{"version", e.version}, {"written_at", e.written_at}, {"written_by", e.written_by}});
    return {{"location", backend.where()}, {"remote", backend.remote()}, {"versions", versions}};
}

nlohmann::json state_locks(statestore::Backend& backend) {
    return {{"location", backend.where()},
            {"remote", backend.remote()},
            {"locks", locks_json(backend)}};
}

nlohmann::json unlock_state(statestore::Backend& backend, const std::string& id,
                            const Confirm& confirm) {
    for (const auto& h : backend.locks()) {
        if (h.id != id)
            continue;
        if (!confirm(fmt::format("Break {} of the state {}? If that run is still working, "
                                 "two runs may then change the same machines.",
                                 statestore::describe_holder(h), backend.where())))
            throw usage_error(fmt::format("lock {} left as it is", id));
        backend.unlock(id);
        return {{"location", backend.where()}, {"unlocked", holder_json(h)}};
    }
    // A local file's lock is no record to break: the backend says so itself.
    if (!backend.remote()) {
        backend.unlock(id);
        return {{"location", backend.where()}, {"unlocked", {{"id", id}}}};
    }
    throw usage_error(fmt::format("the state {} has no lock {}; `fedi state locks` lists the "
                                  "locks held now",
                                  backend.where(), id));
}

} // namespace fedi::statecmd
