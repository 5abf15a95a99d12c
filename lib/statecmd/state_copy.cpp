// The state's bytes moved between a backend and a local file or another backend: pull,
// push and migrate. What is written is always a state fedi can read (parsed first), and
// every write is compare-and-swap on the version read.
#include "core/error.hpp"
#include "core/io.hpp"
#include "core/process.hpp"
#include "state/state.hpp"
#include "statecmd/state_command.hpp"

#include <fmt/format.h>

namespace fedi::statecmd {

namespace {

nlohmann::json version_json(const std::optional<statestore::Stored>& stored) {
    return stored ? nlohmann::json(stored->version) : nlohmann::json(nullptr);
}

// A local file that is the state file itself would be replaced by its own copy.
void refuse_the_state_itself(statestore::Backend& backend, const std::string& file,
                             const char* action) {
    if (!backend.remote() && state::real_state_path(file) == backend.where())
        throw usage_error(
            fmt::format("fedi state {} {}: that is the state file itself", action, file));
}

// The state text of a file pull wrote (or one written by hand): plain JSON, or age for
// this project's identity. Parsed, so that nothing fedi cannot read is ever stored.
std::string state_text_of_file(const std::string& file, statestore::Codec& codec) {
    auto bytes = read_whole_file(file, "fedi state push");
    auto text = statestore::is_age_encrypted(bytes) ? codec.open(bytes, file) : bytes;
    state::parse(text, file);
    return text;
}

std::string describe_state(const std::string& text, const std::string& where) {
    auto st = state::parse(text, where);
    return fmt::format("{} machine{} recorded", st.machines.size(),
                       st.machines.size() == 1 ? "" : "s");
}

} // namespace

nlohmann::json pull_state(statestore::Backend& backend, const std::string& file,
                          const std::optional<std::string>& version) {
    refuse_the_state_itself(backend, file, "pull");
    auto stored = version ? backend.read_version(*version) : backend.read();
    if (!stored && version)
        throw usage_error(fmt::format("the state {} has no version {} (`fedi state history` "
                                      "lists them)",
                                      backend.where(), *version));
    if (!stored)
        throw Error(
            fmt::format("the state {} holds no state yet; nothing to pull", backend.where()));
    state::write_file(file, stored->bytes);
    return {{"location", backend.where()},
            {"version", stored->version},
            {"file", file},
            {"encrypted", statestore::is_age_encrypted(stored->bytes)}};
}

nlohmann::json push_state(statestore::Backend& backend, statestore::Codec& codec,
                          const std::string& file, const std::optional<std::string>& expect_version,
                          const statestore::LockRequest& lock, const Confirm& confirm) {
    refuse_the_state_itself(backend, file, "push");
    auto text = state_text_of_file(file, codec);
    auto held = backend.lock(lock);
    auto current = backend.read();
    auto current_version = current ? std::optional<std::string>(current->version) : std::nullopt;
    if (expect_version && current_version != expect_version)
        throw statestore::VersionConflict(fmt::format(
            "the state {} is at version {}, not {} as expected: it changed since it was "
            "pulled; not replaced (pull it again and make the change on that)",
            backend.where(), current_version.value_or("(none)"), *expect_version));
    auto now = current
                   ? describe_state(codec.open(current->bytes, backend.where()), backend.where())
                   : std::string("no state yet");
    if (!confirm(fmt::format("Replace the state {} (version {}, {}) with {} ({})?", backend.where(),
                             current_version.value_or("none"), now, file,
                             describe_state(text, file))))
        throw usage_error(fmt::format("the state {} was not replaced", backend.where()));
    auto version = backend.write(codec.seal(text), current_version);
    return {{"location", backend.where()},
            {"file", file},
            {"replaced", version_json(current)},
            {"version", version}};
}

nlohmann::json migrate_state(MigrateEnd from, MigrateEnd to, const std::string& to_location,
                             bool force, const statestore::LockRequest& lock) {
    // Both held until the copy is written and read back: no run changes either meanwhile.
    auto from_lock = from.backend.lock(lock);
    auto to_lock = to.backend.lock(lock);
    auto stored = from.backend.read();
    if (!stored)
        throw Error(fmt::format("the state {} holds no state yet; nothing to migrate",
                                from.backend.where()));
    auto existing = to.backend.read();
    if (existing && !force)
        throw usage_error(fmt::format("{} already holds a state (version {}); not replaced "
                                      "(--force replaces it)",
                                      to.backend.where(), existing->version));
    auto text = from.codec.open(stored->bytes, from.backend.where());
    state::parse(text, from.backend.where());
    auto expected = existing ? std::optional<std::string>(existing->version) : std::nullopt;
    auto version = to.backend.write(to.codec.seal(text), expected);
    auto back = to.backend.read();
    if (!back || to.codec.open(back->bytes, to.backend.where()) != text)
        throw Error(fmt::format("the state written to {} does not read back as written; the "
                                "state {} is still the one to use",
                                to.backend.where(), from.backend.where()));
    return {{"from", from.backend.where()},
            {"to", to.backend.where()},
            {"version", version},
            {"replaced", version_json(existing)},
            {"kept", to.codec.describe()},
            {"use",
             {{"option", "--state " + shell_quote(to_location)},
              {"deployment", fmt::format("meta.state = \"{}\";", to_location)}}}};
}

} // namespace fedi::statecmd
