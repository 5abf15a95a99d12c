// The accounts and directory part of a plan: the service accounts and identity directory
// entries a deploy would create or change, found the way the deploy decides (the same
// driver check, the same comparison of entries) with only read-only commands and searches.
#include "plan/parts.hpp"

#include "account/identity.hpp"
#include "account/records.hpp"
#include "account/secret_values.hpp"
#include "account/services.hpp"
#include "core/error.hpp"
#include "session/for_each_machine.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <optional>

namespace fedi::plan {

namespace {

// The records as a deploy would find them before choosing anything.
account::Records records_before_deploy(session::Session& s) {
    auto records = account::load_records(s.state().snapshot());
    account::forget_stale(s.deployment(), records);
    return records;
}

// One account: absent ones are created by the deploy; existing ones are left as they are
// (Mastodon's role and e-mail are set again, but tootctl cannot read them back).
std::optional<AccountPlan> plan_account(host::Host& h, const model::Account& a,
                                        const account::AccountRecord& record) {
    auto exists =
        with_context(fmt::format("asking about accounts.{} ({} {} on {})", a.name, a.service,
                                 a.username, a.machine),
                     [&] { return account::driver_for(a.service)->exists(h, a, record); });
    if (exists)
        return std::nullopt;
    // PeerTube cannot be asked: fedi knows root only once it has set its password.
    std::string why = a.service == "peertube" ? "not set up by fedi yet" : "does not exist";
    return AccountPlan{"account", a.name, a.machine, Action::Create, {why}};
}

} // namespace

AccountsPart plan_accounts(session::Session& s, const std::set<std::string>& machines) {
    const auto records = records_before_deploy(s);
    std::map<std::string, std::vector<const model::Account*>> by_machine;
    for (const auto& [name, a] : s.deployment().accounts)
        if (machines.count(a.machine))
            by_machine[a.machine].push_back(&a);
    std::vector<std::string> names;
    for (const auto& [machine, accounts] : by_machine)
        names.push_back(machine);
    std::mutex mutex;
    AccountsPart out;
    session::MachineWork work;
    work.run = [&](const std::string& machine) {
        auto h = s.connector().connect(s.deployment().machines.at(machine));
        for (const auto* a : by_machine.at(machine)) {
            auto rec = records.accounts.count(a->name) ? records.accounts.at(a->name)
                                                       : account::AccountRecord{};
            if (auto p = plan_account(*h, *a, rec)) {
                std::lock_guard lock(mutex);
                out.accounts.push_back(std::move(*p));
            }
        }
        return true;
    };
    work.on_error = [&](const std::string& machine, const std::string& error) {
        std::lock_guard lock(mutex);
        out.machine_errors[machine] = error;
    };
    work.on_skipped = [](const std::string&, const std::string&) {};
    session::for_each_machine(session::independent_jobs(names), s.limits().machines, work);
    std::sort(out.accounts.begin(), out.accounts.end(),
              [](const AccountPlan& a, const AccountPlan& b) { return a.name < b.name; });
    return out;
}

namespace {

AccountPlan directory_entry_plan(const account::EntryDrift& e) {
    AccountPlan p{"directory", e.dn, "", e.exists ? Action::Update : Action::Create, {}};
    if (!e.exists)
        p.reasons.emplace_back("does not exist");
    for (const auto& attribute : e.differs)
        p.reasons.push_back(attribute == "userPassword" ? "password differs"
                                                        : attribute + " differs");
    return p;
}

} // namespace

std::vector<AccountPlan> plan_directory(session::Session& s) {
    const auto& d = s.deployment();
    if (d.identity.empty())
        return {};
    const auto records = records_before_deploy(s);
    std::vector<AccountPlan> out;
    for (const auto& [name, dir] : d.identity) {
        const model::IdentityDirectory& directory = dir; // clang 14: no captured bindings
        auto drift = with_context(fmt::format("identity.{} at {}", name, dir.url),
                                  [&] { return account::directory_drift(directory, records); });
        for (const auto& e : drift)
            out.push_back(directory_entry_plan(e));
    }
    return out;
}

} // namespace fedi::plan
