#include "session/state_store.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

#include <mutex>

namespace fedi::session {

namespace {

// Holds the state in memory and serialises changes; `persist` saves a changed state and
// returns what it then is (the store's own, or a newer one another run wrote, with the
// change applied again).
class BasicStore : public StateStore {
  public:
    using Persist =
        std::function<state::State(const state::State&, const std::function<void(state::State&)>&)>;
    BasicStore(state::State initial, bool writable, std::string where, Persist persist)
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
        state_ = persist_(next, fn);
    }

    bool writable() const override { return writable_; }
    std::string where() const override { return where_; }

  protected:
    // The state as first read, before anyone else sees the store.
    void set_initial(state::State s) { state_ = std::move(s); }

  private:
    mutable std::mutex mutex_;
    state::State state_;
    bool writable_;
    std::string where_;
    Persist persist_;
};

// Reads and writes the state through a backend, holding its lock for the store's life.
class BackendStore : public BasicStore {
  public:
    BackendStore(std::unique_ptr<statestore::Backend> backend,
                 std::unique_ptr<statestore::Codec> codec, std::unique_ptr<statestore::Lock> lock)
        : BasicStore({}, lock != nullptr, backend->where(),
                     [this](const state::State& next, const auto& fn) { return save(next, fn); }),
          backend_(std::move(backend)), codec_(std::move(codec)), lock_(std::move(lock)) {
        set_initial(read());
    }

  private:
    // The state stored now, and its version.
    state::State read() {
        auto stored = backend_->read();
        if (!stored) {
            version_.reset();
            return {};
        }
        version_ = stored->version;
        return state::parse(codec_->open(stored->bytes, backend_->where()), backend_->where());
    }

    state::State save(const state::State& next, const std::function<void(state::State&)>& fn) {
        state::State to_write = next;
        // A conflict means another run (holding other locks of the same state) wrote in
        // between: apply this change again on top of what it wrote. Bounded, so that a
        // fight between two runs ends in an error rather than a loop.
        for (int attempt = 0;; ++attempt) {
            try {
                version_ = backend_->write(codec_->seal(state::to_text(to_write)), version_);
                return to_write;
            } catch (const statestore::VersionConflict&) {
                if (attempt >= 4)
                    throw;
                to_write = read();
                fn(to_write);
            }
        }
    }

    std::unique_ptr<statestore::Backend> backend_;
    std::unique_ptr<statestore::Codec> codec_;
    std::unique_ptr<statestore::Lock> lock_;
    std::optional<std::string> version_;
};

} // namespace

std::unique_ptr<StateStore> open_state_store(std::unique_ptr<statestore::Backend> backend,
                                             std::unique_ptr<statestore::Codec> codec,
                                             StateMode mode, const statestore::LockRequest& lock) {
    std::unique_ptr<statestore::Lock> held;
    if (mode == StateMode::Locked)
        held = backend->lock(lock);
    return std::make_unique<BackendStore>(std::move(backend), std::move(codec), std::move(held));
}

std::unique_ptr<StateStore> open_state_file(const std::string& file, StateMode mode,
                                            const std::string& command_line) {
    statestore::LockRequest lock;
    lock.command = command_line;
    return open_state_store(statestore::file_backend(file), statestore::plain_codec(), mode, lock);
}

std::unique_ptr<StateStore> memory_state(state::State initial) {
    return std::make_unique<BasicStore>(std::move(initial), true, "(in memory)",
                                        [](const state::State& next, const auto&) { return next; });
}

} // namespace fedi::session
