#pragma once
// `fedi bucket`: buckets and keys for operators and scripts, declared or ad hoc. A
// declared bucket is created as the deployment says (keys are delivered by `fedi
// deploy`); an ad hoc one is recorded in state as such, so deploy does not report it.
#include "session/session.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace fedi::storage {

enum class BucketAction { List, Info, Create, Delete, Allow, Deny, KeyList, KeyCreate, KeyDelete };

struct BucketOptions {
    // The state is locked for the actions that change something, read-only otherwise.
    session::SessionOptions session;
    BucketAction action = BucketAction::List;
    std::string bucket;
    std::string key;     // a key's name (as declared or created) or access key id
    std::string storage; // --storage; default: the bucket's, or the only one declared
    bool read = false, write = false, owner = false;
    bool force = false; // delete a bucket with its objects
};

// Runs the action; returns its result as JSON (the secret only from key create, which
// is when a script needs it). Throws fedi::Error with the backend's code and message.
nlohmann::json run_bucket_command(const BucketOptions& opts, ui::Events& events);
// The same on an open session (writable for the actions that change something); `opts`
// gives the action, its session options are not used.
nlohmann::json run_bucket_command(session::Session& s, const BucketOptions& opts);

// The result for a terminal.
std::string render_bucket_result(BucketAction action, const nlohmann::json& result, bool color);

} // namespace fedi::storage
