#pragma once
// The one owner of a deployment's state during a command: every phase reads it through
// snapshot() and changes it through change(), which saves once per change. The local
// file is the backend today; remote backends plug in behind the same interface.
#include "state/state.hpp"

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
    // serialised: `fn` sees every change made before it.
    virtual void change(const std::function<void(state::State&)>& fn) = 0;
    virtual bool writable() const = 0;
    // Where the state lives, for messages.
    virtual std::string where() const = 0;
};

// The state file `file` (already resolved, see resolve_state_file). Locked takes the lock
// before reading, so a second command stops before doing any work; `command_line` is
// recorded in the lock for whoever finds it held.
std::unique_ptr<StateStore> open_state_file(const std::string& file, StateMode mode,
                                            const std::string& command_line);

// State kept in memory only: nothing is written anywhere (tests).
std::unique_ptr<StateStore> memory_state(state::State initial = {});

} // namespace fedi::session
