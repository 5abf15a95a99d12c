// The secrets part of a plan: what a deploy would put in each machine's secrets
// directory, and how that differs from what the machine has. Contents are compared
// through SHA-256 digests, this side's computed here and the machine's from its probe;
// neither a value nor a digest goes into the plan.
#include "plan/parts.hpp"

#include "account/records.hpp"
#include "account/secret_values.hpp"
#include "core/error.hpp"
#include "s3/hash.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <set>

namespace fedi::plan {

DeclaredSecrets declared_secrets(session::Session& s, const std::set<std::string>& machines) {
    DeclaredSecrets out;
    const auto& d = s.deployment();
    if (d.secrets.empty() && d.accounts.empty())
        return out;
    // The records as the deploy would find them before choosing: a value it would choose
    // (or learn from a service) is missing here, and its file is made at deploy.
    auto records = account::load_records(s.state().snapshot());
    account::forget_stale(d, records);
    auto files = with_context("preparing the secrets",
                              [&] { return account::planned_secret_files(d, machines, records); });
    out.files = std::move(files.files);
    out.made_at_deploy = std::move(files.unknown);
    return out;
}

namespace {

std::string mode_text(unsigned mode) {
    return fmt::format("{:04o}", mode);
}

// Why a file the machine has is not the declared one (empty: it is).
std::vector<std::string> differences(const host::SecretFile& want, const SecretFacts& have) {
    std::vector<std::string> reasons;
    if (storage::hex(storage::sha256(want.content)) != have.sha256)
        reasons.emplace_back("content differs");
    if (want.owner != have.owner)
        reasons.push_back(fmt::format("owner {} → {}", have.owner, want.owner));
    if (want.group != have.group)
        reasons.push_back(fmt::format("group {} → {}", have.group, want.group));
    if (want.mode != have.mode)
        reasons.push_back(fmt::format("mode {} → {}", mode_text(have.mode), mode_text(want.mode)));
    return reasons;
}

} // namespace

// Files already as declared are left out, as in the other parts of a plan: a plan lists
// what would change.
std::vector<SecretPlan>
diff_secrets(const std::vector<host::SecretFile>& declared,
             const std::vector<std::pair<std::string, std::string>>& made_at_deploy,
             const std::vector<SecretFacts>& present) {
    std::map<std::string, const SecretFacts*> on_machine;
    for (const auto& f : present)
        on_machine.emplace(f.name, &f);
    std::set<std::string> wanted;
    std::vector<SecretPlan> out;
    for (const auto& f : declared) {
        if (!wanted.insert(f.name).second)
            continue;
        auto it = on_machine.find(f.name);
        if (it == on_machine.end()) {
            out.push_back({f.name, Action::Create, f.origin, {}});
            continue;
        }
        auto reasons = differences(f, *it->second);
        if (!reasons.empty())
            out.push_back({f.name, Action::Update, f.origin, std::move(reasons)});
    }
    // A value the deploy chooses (or a service makes up) is new: the file changes.
    for (const auto& [name, origin] : made_at_deploy) {
        if (!wanted.insert(name).second)
            continue;
        auto action = on_machine.count(name) ? Action::Update : Action::Create;
        out.push_back({name, action, origin, {"value made at deploy"}});
    }
    // The directory belongs to fedi: what is no longer declared goes.
    for (const auto& f : present)
        if (!wanted.count(f.name))
            out.push_back({f.name, Action::Destroy, "", {}});
    std::sort(out.begin(), out.end(),
              [](const SecretPlan& a, const SecretPlan& b) { return a.name < b.name; });
    return out;
}

} // namespace fedi::plan
