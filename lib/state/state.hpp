#pragma once
// fedi's record of what it did: one JSON file per deployment, mode 0600, written
// atomically, guarded by an exclusive lock naming its holder.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fedi::state {

struct Generation {
    std::string system;        // store path of the system
    std::string time;          // UTC, ISO 8601
    std::string goal;          // switch, boot, ...
    std::optional<int> number; // the profile generation number on the machine
    // Fields this version does not know (a newer fedi wrote them): written back as read.
    nlohmann::json extra = nlohmann::json::object();
};

struct MachineState {
    std::vector<std::string> host_keys;              // trusted through --accept-new-host-keys
    std::vector<Generation> generations;             // oldest first
    nlohmann::json extra = nlohmann::json::object(); // fields this version does not know
};

// The state format version this fedi writes and reads. A newer fedi may add fields (kept
// as read, see `extra`); it raises the version only when an older fedi would misread the
// file, and an older fedi then refuses it.
constexpr int format_version = 1;

struct State {
    int version = format_version;
    std::map<std::string, MachineState> machines;
    // Kept as read for parts of the file this version does not know (forward compatible).
    nlohmann::json extra = nlohmann::json::object();
};

nlohmann::json to_json(const State& s);
// `fresh` (a record as this fedi writes it) with the fields of `old` (the same record as
// read) that `fresh` lacks: what a newer fedi recorded survives a write by this one. Both
// must be objects, else `fresh` is returned as is. Shallow on purpose: a nested map whose
// entries this fedi removed must not get them back.
nlohmann::json with_unknown_fields(const nlohmann::json& old, nlohmann::json fresh);
// with_unknown_fields for each entry of `fresh` (a map of records) that `old` has too.
nlohmann::json with_unknown_fields_of_entries(const nlohmann::json& old, nlohmann::json fresh);

State from_json(const nlohmann::json& j, const std::string& file);
// The state from the text of a state file; errors name `file`.
State parse(const std::string& text, const std::string& file);

// Reads the state file (`given` may be a symbolic link to it); a missing file is an empty state. A
// corrupt file is an error naming the file (never silently replaced).
State load(const std::string& given);
// The bytes of the state file, or nothing when there is none (load without the parse).
std::optional<std::string> read_file(const std::string& given);

// The state as this fedi writes it: indented JSON and a final newline.
std::string to_text(const State& s);

// Writes atomically: temporary file in the same directory (0600), fsync, rename,
// fsync of the directory. Creates the directory and missing parents (0700) when needed,
// and tightens an existing `.fedi` directory to 0700. Writes through a symbolic link to
// the file it names.
void save(const std::string& given, const State& s);
// save's atomic write for text already made (to_text, or the same encrypted); `what`
// names the file in errors.
void write_file(const std::string& given, const std::string& text,
                const std::string& what = "state file");

// An exclusive lock on a deployment's state, held for the life of the object.
class Lock {
  public:
    // Takes the lock or throws at once with a message naming the holder (pid, command,
    // since when). `command` describes this process for the next one who finds it.
    // Removes the temporary files of writes that died (see save).
    static std::unique_ptr<Lock> acquire(const std::string& given, const std::string& command);
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

  private:
    Lock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_;
    std::string path_;
};

// The state file a path names, with symbolic links resolved (the file's own and its
// directories'), so that every way of naming one state takes one lock and writes one file.
std::string real_state_path(const std::string& file);

// The default state file for a deployment file: .fedi/state.json beside it.
std::string default_state_file(const std::string& deployment_file);

// The host keys state trusts for a machine (recorded by --accept-new-host-keys).
std::vector<std::string> trusted_host_keys(const State& s, const std::string& machine);

// Current time as "2026-11-27T02:25:09Z".
std::string now_utc();

} // namespace fedi::state
