// The typed records a deploy reports; lib/report renders them.
#include "deploy/deploy.hpp"

#include "core/enum_names.hpp"

#include <algorithm>

namespace fedi::deploy {

namespace {

constexpr EnumName<Phase> kPhaseNames[] = {
    {Phase::None, ""},           {Phase::Build, "build"},      {Phase::Connect, "connect"},
    {Phase::Push, "push"},       {Phase::Secrets, "secrets"},  {Phase::Activate, "activate"},
    {Phase::Storage, "storage"}, {Phase::Rollback, "rollback"}};

constexpr EnumName<Outcome> kOutcomeNames[] = {
    {Outcome::Built, "built"},         {Outcome::Pushed, "pushed"},
    {Outcome::Activated, "deployed"},  {Outcome::DryActivated, "dry-activated"},
    {Outcome::Unchanged, "unchanged"}, {Outcome::Failed, "failed"},
    {Outcome::Skipped, "skipped"},     {Outcome::RolledBack, "rolled back"}};

constexpr EnumName<Transfer> kTransferNames[] = {
    {Transfer::Push, "push"}, {Transfer::Cache, "cache"}, {Transfer::Auto, "auto"}};

} // namespace

std::string to_string(Phase p) {
    return name_of(p, kPhaseNames);
}

std::string to_string(Outcome o) {
    return name_of(o, kOutcomeNames);
}

std::optional<Transfer> parse_transfer(const std::string& text) {
    return value_named(text, kTransferNames);
}

std::uint64_t DeployReport::bytes_uploaded() const {
    std::uint64_t bytes = cache ? cache->bytes_uploaded : 0;
    for (const auto& m : machines)
        bytes += m.bytes_sent;
    return bytes;
}

bool DeployReport::ok() const {
    return (!storage || storage->ok()) && errors.empty() &&
           std::all_of(machines.begin(), machines.end(),
                       [](const MachineReport& m) { return m.ok() && m.state_error.empty(); }) &&
           std::all_of(accounts.begin(), accounts.end(),
                       [](const account::AccountResult& a) { return a.ok(); }) &&
           std::all_of(identity.begin(), identity.end(),
                       [](const account::IdentityResult& i) { return i.ok(); });
}

} // namespace fedi::deploy
