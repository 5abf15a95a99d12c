#pragma once
// The storage phase of `fedi deploy`: which storage clusters the selected machines need,
// which machines must deploy before it (the Garage nodes), and the converge itself with
// the deploy's session (its state and connections).
#include "model/deployment.hpp"
#include "session/session.hpp"
#include "storage/converge.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fedi::deploy {

// Storage clusters that selected machines are nodes of or receive keys from.
std::set<std::string> storages_needed(const model::Deployment& d,
                                      const std::set<std::string>& selected);

// Selected machines that deploy before the storage phase: the nodes of `storages` and,
// transitively, the selected machines they come `after`. In selection order.
std::vector<std::string> deploy_before_storage(const model::Deployment& d,
                                               const std::vector<std::string>& selected,
                                               const std::set<std::string>& storages);

// Where the Garage NixOS module (resources/garage-node.nix) writes `garage node id`.
constexpr const char* kGarageNodeIdFile = "/var/lib/fedi/garage/node-id";

// Why a machine did not deploy in this run (nullopt: it did, or was not selected).
using FailureOf = std::function<std::optional<std::string>(const std::string& machine)>;

// Converges `storages` with the session's state and connections.
storage::ConvergeReport run_storage_phase(session::Session& s,
                                          const std::set<std::string>& storages, bool dry_run,
                                          const FailureOf& failure_of);

// For plans: the dry run of `storages` that also compares the Garage layout node by node
// (node ids read from the machines, which changes nothing).
storage::ConvergeReport plan_storage_phase(session::Session& s,
                                           const std::set<std::string>& storages);

} // namespace fedi::deploy
