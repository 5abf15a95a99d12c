#pragma once
// The one owner of a deployment's state during a command: every phase reads it through
// snapshot() and changes it through change(), which saves once per change, wherever the
// state lives (statestore::Backend) and however it is kept at rest (statestore::Codec).
#include "state/state.hpp"
#include "statestore/backend.hpp"
#include "statestore/codec.hpp"

#include <functional>
#include <memory>
#include <string>

namespace fedi::session {

enum class StateMode {
    ReadOnly, // no lock, and change() refuses (status, eval, dry runs)
    Locked,   // the deployment's lock is held until the store is destroyed
};

class StateStore {
  public:
    virtual ~StateStore() = default;
    // A copy of the state as last saved. Never writes.
    virtual state::State snapshot() const = 0;
    // Applies `fn` to a copy of the state and saves that copy; the store takes it only
    // once saved, so a failed save throws and leaves the state as it was. Changes are
    // serialised: `fn` sees every change made before it. When another run wrote the state
    // meanwhile (a remote state locked per machine), `fn` is applied again to what it
    // wrote, so neither change is lost.
    virtual void change(const std::function<void(state::State&)>& fn) = 0;
    virtual bool writable() const = 0;
    // Where the state lives, for messages.
    virtual std::string where() const = 0;
};

// The state in `backend`, read and written through `codec`. Locked takes the locks of
// `lock` before reading, so a second command stops before doing any work.
std::unique_ptr<StateStore> open_state_store(std::unique_ptr<statestore::Backend> backend,
                                             std::unique_ptr<statestore::Codec> codec,
                                             StateMode mode, const statestore::LockRequest& lock);

// The plain state file `file` (already resolved, see resolve_state_location). Locked takes
// the lock first; `command_line` is recorded in it for whoever finds it held.
std::unique_ptr<StateStore> open_state_file(const std::string& file, StateMode mode,
                                            const std::string& command_line);

// State kept in memory only: nothing is written anywhere (tests).
std::unique_ptr<StateStore> memory_state(state::State initial = {});

} // namespace fedi::session
