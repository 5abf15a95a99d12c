// The local state file: read and written whole (state::read_file, state::write_file: an
// atomic rename), one flock'd lock file beside it for the whole deployment. Its version is
// a digest of its bytes; under the lock nobody else writes, so a conflict means the file
// was changed by hand meanwhile.
#include "s3/hash.hpp"
#include "state/state.hpp"
#include "statestore/backend.hpp"

#include <fmt/format.h>

namespace fedi::statestore {

namespace {

class FileLock : public Lock {
  public:
    explicit FileLock(std::unique_ptr<state::Lock> lock) : lock_(std::move(lock)) {}

  private:
    std::unique_ptr<state::Lock> lock_;
};

std::string version_of(const std::string& bytes) {
    return storage::hex(storage::sha256(bytes));
}

class FileBackend : public Backend {
  public:
    explicit FileBackend(std::string file) : file_(state::real_state_path(file)) {}

    std::string where() const override { return file_; }

    std::optional<Stored> read() override {
        auto bytes = state::read_file(file_);
        if (!bytes)
            return std::nullopt;
        return Stored{*bytes, version_of(*bytes)};
    }

    std::string write(const std::string& bytes,
                      const std::optional<std::string>& expected) override {
        auto now = state::read_file(file_);
        std::optional<std::string> current;
        if (now)
            current = version_of(*now);
        if (current != expected)
            throw VersionConflict(fmt::format(
                "the state file {} changed since fedi read it (edited by hand, or written by "
                "a fedi that did not take its lock); not overwritten",
                file_));
        state::write_file(file_, bytes);
        return version_of(bytes);
    }

    std::unique_ptr<Lock> lock(const LockRequest& request) override {
        return std::make_unique<FileLock>(state::Lock::acquire(file_, request.command));
    }

    // The lock file holds one line about its holder, not a structured record.
    std::vector<LockHolder> locks() override { return {}; }

    void unlock(const std::string& id) override {
        throw usage_error(fmt::format("the state file {} has no lock {}: a local state's lock is "
                                      "freed when its process ends",
                                      file_, id));
    }

    std::vector<HistoryEntry> history() override { return {}; }
    std::optional<Stored> read_version(const std::string& version) override {
        auto now = read();
        if (now && now->version == version)
            return now;
        return std::nullopt;
    }
    bool remote() const override { return false; }

  private:
    std::string file_;
};

} // namespace

std::unique_ptr<Backend> file_backend(const std::string& file) {
    return std::make_unique<FileBackend>(file);
}

} // namespace fedi::statestore
