#include "session/state_store.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

#include <mutex>

namespace fedi::session {

namespace {

// Holds the state in memory and serialises changes; `persist` writes a changed state
// (nothing for the memory store).
class BasicStore : public StateStore {
  public:
    BasicStore(state::State initial, bool writable, std::string where,
               std::function<void(const state::State&)> persist)
        : state_(std::move(initial)), writable_(writable), where_(std::move(where)),
          persist_(std::move(persist)) {}

    state::State snapshot() const override {
        std::lock_guard<std::mutex> lock(mutex_);
        return state_;
    }

    void change(const std::function<void(state::State&)>& fn) override {
        if (!writable_)
            throw Error(fmt::format("internal: a change to the state {} was attempted by a "
                                    "command that opened it read-only",
                                    where_));
        std::lock_guard<std::mutex> lock(mutex_);
        state::State next = state_;
        fn(next);
        persist_(next);
        state_ = std::move(next);
    }

    bool writable() const override { return writable_; }
    std::string where() const override { return where_; }

  private:
    mutable std::mutex mutex_;
    state::State state_;
    bool writable_;
    std::string where_;
    std::function<void(const state::State&)> persist_;
};

// The file store also owns the lock, released after the last save.
class FileStore : public BasicStore {
  public:
    FileStore(std::unique_ptr<state::Lock> lock, const std::string& file)
        : BasicStore(state::load(file), lock != nullptr, file,
                     [file](const state::State& s) { state::save(file, s); }),
          lock_(std::move(lock)) {}

  private:
    std::unique_ptr<state::Lock> lock_;
};

} // namespace

std::unique_ptr<StateStore> open_state_file(const std::string& file, StateMode mode,
                                            const std::string& command_line) {
    std::unique_ptr<state::Lock> lock;
    if (mode == StateMode::Locked)
        lock = state::Lock::acquire(file, command_line);
    return std::make_unique<FileStore>(std::move(lock), file);
}

std::unique_ptr<StateStore> memory_state(state::State initial) {
    return std::make_unique<BasicStore>(std::move(initial), true, "(in memory)",
                                        [](const state::State&) {});
}

} // namespace fedi::session
