#pragma once
// Where a deployment's state is kept: a backend stores the state document as bytes (plain
// JSON, or the same sealed by a Codec), hands out a version with every read so that
// writes are compare-and-swap, and holds the locks that keep two runs apart. The local
// file is the default; PostgreSQL and S3 objects let a team and CI share one state.
#include "core/error.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedi::statestore {

// Who holds a lock, told to whoever finds it held and listed by `fedi state locks`.
struct LockHolder {
    std::string id;    // what `fedi state unlock ID` takes
    std::string scope; // what is locked: "deployment", "machine web", "storage garage", ...
    std::string host;
    std::string user;
    long pid = 0;
    std::string command;
    std::string since; // UTC, ISO 8601
};

// This process as a lock holder of `scope`, with a fresh random id.
LockHolder this_process(const std::string& command, const std::string& scope);
// "pid 4242 on ci-runner-3 (user deploy), `fedi deploy`, since 2026-12-07T09:00:00Z"
std::string describe_holder(const LockHolder& holder);

// A lock someone else holds; the message names the holder.
class LockHeld : public Error {
  public:
    LockHeld(const std::string& where, LockHolder holder);
    const LockHolder& holder() const { return holder_; }

  private:
    LockHolder holder_;
};

// A write whose expected version is no longer the stored one: someone else wrote in
// between (a broken lock, a narrower lock of another run). Never overwritten silently.
class VersionConflict : public Error {
  public:
    using Error::Error;
};

// One stored version of the state document.
struct Stored {
    std::string bytes;
    std::string version; // opaque; what write() compares against
};

struct HistoryEntry {
    std::string version;
    std::string written_at; // UTC, ISO 8601
    std::string written_by; // "user@host: command", as far as the backend knows it
};

// Held until destroyed.
class Lock {
  public:
    virtual ~Lock() = default;
};

struct LockRequest {
    // Each scope is locked exclusively; all or none. A file backend has one lock for
    // the whole deployment whatever the scopes.
    std::vector<std::string> scopes{"deployment"};
    std::string command; // this process, for whoever finds the lock held
    // How long to wait for a held lock before LockHeld; zero fails at once.
    std::chrono::seconds timeout{0};
};

class Backend {
  public:
    virtual ~Backend() = default;
    // Where the state lives, for messages (never a password).
    virtual std::string where() const = 0;
    // The state as stored, or nothing when no state was ever written.
    virtual std::optional<Stored> read() = 0;
    // Stores `bytes` when the stored version is still `expected` (nothing: no state yet)
    // and returns the new version; VersionConflict otherwise.
    virtual std::string write(const std::string& bytes,
                              const std::optional<std::string>& expected) = 0;
    // Takes the locks asked for, or throws LockHeld naming a holder.
    virtual std::unique_ptr<Lock> lock(const LockRequest& request) = 0;
    // The locks held now, by anyone.
    virtual std::vector<LockHolder> locks() = 0;
    // Breaks the lock `id` (`fedi state unlock`), whoever holds it.
    virtual void unlock(const std::string& id) = 0;
    // Earlier versions, newest first (empty where the backend keeps none).
    virtual std::vector<HistoryEntry> history() = 0;
    // A version history() listed.
    virtual std::optional<Stored> read_version(const std::string& version) = 0;
    // Whether the state leaves this machine (remote backends refuse plain text unless
    // the deployment allows it).
    virtual bool remote() const = 0;
};

// Secrets a backend needs (a database password, S3 keys) come from files or the
// environment, never from the location itself or from process arguments.
struct BackendOptions {
    // For messages and lock holders.
    std::string command_line;
};

// "postgresql://…" or "postgres://…", "s3://bucket/key?…", else the path of a local file.
std::unique_ptr<Backend> open_backend(const std::string& location, const BackendOptions& options);

// Whether `location` names a remote backend rather than a local file.
bool is_remote_location(const std::string& location);

// The local state file `file`; its lock is a lock file beside it (flock), one for the
// whole deployment.
std::unique_ptr<Backend> file_backend(const std::string& file);

} // namespace fedi::statestore
