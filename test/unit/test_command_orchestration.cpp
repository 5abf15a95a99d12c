// The commands that work on many machines (rollback, status, exec, provision), run on a
// session built from parts: fake machines, a state in memory and recorded events. What
// each machine's result is, that one machine's failure (whatever it throws) fails only
// that machine, that state is written through the store, and that the limit holds.
#include "account/commands.hpp"
#include "core/error.hpp"
#include "deploy/exec.hpp"
#include "deploy/provision.hpp"
#include "deploy/rollback.hpp"
#include "deploy/status.hpp"
#include "fake_machines.hpp"
#include "model_test_util.hpp"
#include "session/session.hpp"
#include "ui/events.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fmt/format.h>
#include <stdexcept>
#include <thread>

using namespace fedi;

namespace {

// A session on fake machines and a state in memory (or the store given).
struct Rig {
    ui::RecordingEvents events;
    test::FakeConnector* machines = nullptr;
    std::unique_ptr<session::Session> session;

    explicit Rig(model::Deployment d, std::unique_ptr<session::StateStore> store = nullptr,
                 session::Limits limits = {}) {
        auto connector = std::make_unique<test::FakeConnector>();
        machines = connector.get();
        if (!store)
            store = session::memory_state();
        session = std::make_unique<session::Session>(
            session::Project{std::move(d), "/nonexistent/.fedi/state.json"}, std::move(store),
            events, std::move(connector), limits);
    }
    session::Session& s() { return *session; }
    state::State state() { return session->state().snapshot(); }
};

model::Machine machine(const std::string& name, std::vector<std::string> after = {}) {
    model::Machine m;
    m.name = name;
    m.ssh.host = name + ".test";
    m.system.out_path = "/nix/store/aaaa-" + name;
    m.after = std::move(after);
    return m;
}

model::Deployment deployment(const std::vector<model::Machine>& machines) {
    model::Deployment d;
    d.file = "/nonexistent/deployment.nix";
    for (const auto& m : machines)
        d.machines[m.name] = m;
    return d;
}

// Machines m0, m1, ...
std::vector<model::Machine> numbered(int count) {
    std::vector<model::Machine> ms;
    for (int i = 0; i < count; ++i)
        ms.push_back(machine(fmt::format("m{}", i)));
    return ms;
}

session::Limits at_most(int machines) {
    session::Limits limits;
    limits.machines = machines;
    return limits;
}

// A fake machine that has run `generation` generations, the last being `system`.
void deployed(test::FakeConnector& c, const std::string& name, int generation,
              const std::string& system) {
    auto m = c.add(name);
    m->generation = generation;
    m->profile = system;
    m->current = system;
}

template <class List> const auto& result(const List& list, const std::string& name) {
    auto it = std::find_if(list.begin(), list.end(), [&](const auto& r) { return r.name == name; });
    REQUIRE(it != list.end());
    return *it;
}

// The most workers that were inside `run` at once.
struct Concurrency {
    std::atomic<int> now{0};
    std::atomic<int> most{0};
    void run() {
        int n = ++now;
        int seen = most.load();
        while (n > seen && !most.compare_exchange_weak(seen, n)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        --now;
    }
};

} // namespace

TEST_CASE("rollback: machines go back, one without an earlier generation fails alone") {
    // b comes after a, whose rollback fails: b still rolls back (rollback has no order).
    Rig rig(deployment({machine("a"), machine("b", {"a"}), machine("c")}));
    deployed(*rig.machines, "a", 1, "/nix/store/a1");
    deployed(*rig.machines, "b", 3, "/nix/store/b3");
    deployed(*rig.machines, "c", 2, "/nix/store/c2");

    auto report = deploy::run_rollback(rig.s(), {"a", "b", "c"});

    REQUIRE(report.machines.size() == 3);
    CHECK(report.goal == model::Goal::Switch);
    const auto& a = result(report.machines, "a");
    CHECK(a.outcome == deploy::Outcome::Failed);
    CHECK(a.phase == deploy::Phase::Rollback);
    CHECK(a.error.find("rollback failed 1") != std::string::npos);
    CHECK(rig.events.said("a", "rollback failed: rollback failed 1"));
    for (const auto* name : {"b", "c"}) {
        CAPTURE(name);
        CHECK(result(report.machines, name).outcome == deploy::Outcome::RolledBack);
    }
    CHECK(*result(report.machines, "b").generation == 2);
    CHECK(rig.machines->machine("b")->generation == 2);
    CHECK(rig.machines->machine("a")->generation == 1);
    CHECK_FALSE(report.ok());

    // Each rollback is recorded in state; the failed one is not.
    auto st = rig.state();
    CHECK(st.machines.count("a") == 0);
    REQUIRE(st.machines.at("b").generations.size() == 1);
    CHECK(st.machines.at("b").generations.back().goal == "rollback");
    CHECK(*st.machines.at("b").generations.back().number == 2);
    CHECK(st.machines.at("c").generations.size() == 1);
}

TEST_CASE("rollback: a machine that cannot be reached fails in the connect phase") {
    Rig rig(deployment({machine("gone"), machine("here")}));
    deployed(*rig.machines, "here", 2, "/nix/store/h2");
    auto report = deploy::run_rollback(rig.s(), {"*"});
    CHECK(result(report.machines, "gone").phase == deploy::Phase::Connect);
    CHECK(result(report.machines, "gone").outcome == deploy::Outcome::Failed);
    CHECK(result(report.machines, "here").outcome == deploy::Outcome::RolledBack);
}

TEST_CASE("status: a host that throws a non-fedi exception fails only its machine") {
    Rig rig(deployment({machine("odd"), machine("web")}));
    deployed(*rig.machines, "web", 1, "/nix/store/aaaa-web");
    rig.machines->add("odd")->on_connect = [] { throw std::out_of_range("stoi"); };

    auto list = deploy::collect_status(rig.s(), {}, true);

    REQUIRE(list.size() == 2);
    const auto& odd = result(list, "odd");
    CHECK_FALSE(odd.probed);
    CHECK(odd.probe_error == "stoi");
    CHECK(odd.verdict == "unreachable");
    const auto& web = result(list, "web");
    CHECK(web.probed);
    CHECK(web.probe_error.empty());
    CHECK(web.verdict == "up to date");
}

TEST_CASE("status: offline asks no machine and reads the state's generations") {
    state::State st;
    st.machines["web"].generations.push_back({"/nix/store/old", "t", "switch", 4});
    Rig rig(deployment({machine("web")}), session::memory_state(st));
    rig.machines->add("web");
    auto list = deploy::collect_status(rig.s(), {}, false);
    CHECK(rig.machines->machine("web")->connections == 0);
    CHECK(result(list, "web").generations.size() == 1);
    CHECK(result(list, "web").verdict == "not probed");
}

TEST_CASE("status: never more machines asked at once than the limit") {
    auto ms = numbered(6);
    Rig rig(deployment(ms), nullptr, at_most(2));
    Concurrency c;
    for (const auto& m : ms)
        rig.machines->add(m.name)->on_connect = [&c] { c.run(); };
    auto list = deploy::collect_status(rig.s(), {}, true);
    CHECK(list.size() == 6);
    CHECK(c.most <= 2);
    CHECK(c.most >= 1);
}

TEST_CASE("exec: a host that throws a non-fedi exception fails only its machine") {
    Rig rig(deployment({machine("bad"), machine("good"), machine("fails")}));
    rig.machines->add("bad")->on_command = [](const std::string&) -> host::CommandResult {
        throw std::invalid_argument("stoi");
    };
    rig.machines->add("good")->on_command = [](const std::string& c) {
        return host::CommandResult{0, "ran " + c, ""};
    };
    rig.machines->add("fails")->on_command = [](const std::string&) {
        return host::CommandResult{3, "", "no"};
    };
    deploy::ExecRequest req;
    req.command = "uptime";
    std::mutex mutex;
    std::vector<std::string> lines;
    req.on_line = [&](const std::string& m, const std::string& l, bool) {
        std::lock_guard<std::mutex> lock(mutex);
        lines.push_back(m + " | " + l);
    };

    auto results = deploy::run_exec(rig.s(), req);

    REQUIRE(results.size() == 3);
    CHECK(results[0].name == "bad"); // selection order
    CHECK(result(results, "bad").error == "stoi");
    CHECK(result(results, "bad").exit_status == -1);
    CHECK(rig.events.said("bad", "stoi"));
    CHECK(result(results, "good").ok());
    CHECK(result(results, "good").out == "ran uptime");
    CHECK(lines == std::vector<std::string>{"good | ran uptime"});
    CHECK(result(results, "fails").exit_status == 3);
    CHECK(rig.events.said("fails", "exit status 3"));
}

TEST_CASE("exec: never more machines at once than the limit") {
    auto ms = numbered(7);
    Rig rig(deployment(ms), nullptr, at_most(3));
    Concurrency c;
    for (const auto& m : ms)
        rig.machines->add(m.name)->on_command = [&c](const std::string&) {
            c.run();
            return host::CommandResult{0, "", ""};
        };
    deploy::ExecRequest req;
    req.command = "true";
    auto results = deploy::run_exec(rig.s(), req);
    CHECK(results.size() == 7);
    CHECK(c.most <= 3);
    CHECK(c.most >= 2);
    for (const auto& r : results)
        CHECK(r.ok());
}

namespace {

// machines m1, m2 on the `existing` provider, and x given by its ssh address.
model::Deployment provisioned_deployment() {
    auto m = [](const std::string& name, const std::string& host) {
        return nlohmann::json{{"provision", {{"provider", "here"}, {"host", host}}},
                              {"system", test::derivation(name)}};
    };
    nlohmann::json j = {
        {"providers", {{"here", {{"type", "existing"}}}}},
        {"machines",
         {{"m1", m("m1", "10.0.0.1")},
          {"m2", m("m2", "10.0.0.2")},
          {"x", {{"ssh", {{"host", "x.test"}}}, {"system", test::derivation("x")}}}}}};
    return model::parse_deployment(j, "/nonexistent/deployment.nix");
}

// A store whose saves fail (a full disk, a lost mount).
class FailingStore : public session::StateStore {
  public:
    state::State snapshot() const override { return {}; }
    void change(const std::function<void(state::State&)>& fn) override {
        state::State scratch;
        fn(scratch);
        throw Error("cannot write state.json: No space left on device");
    }
    bool writable() const override { return true; }
    std::string where() const override { return "(failing)"; }
};

} // namespace

TEST_CASE("provision: records are written through the store, and again is unchanged") {
    Rig rig(provisioned_deployment());
    auto report = deploy::run_provision(rig.s(), {}, false);
    REQUIRE(report.machines.size() == 3);
    CHECK(report.ok());
    CHECK(result(report.machines, "m1").outcome == deploy::ProvisionOutcome::Created);
    CHECK(result(report.machines, "x").outcome == deploy::ProvisionOutcome::Existing);
    auto rec = provider::find_record(rig.state(), "m1");
    REQUIRE(rec);
    CHECK(rec->provider == "here");
    CHECK(rec->outputs.host == "10.0.0.1");
    CHECK(rec->complete);
    CHECK(provider::find_record(rig.state(), "m2"));
    CHECK_FALSE(provider::find_record(rig.state(), "x"));

    auto again = deploy::run_provision(rig.s(), {"m1"}, false);
    REQUIRE(again.machines.size() == 1);
    CHECK(again.machines[0].outcome == deploy::ProvisionOutcome::Unchanged);
}

TEST_CASE("provision: a dry run writes nothing") {
    Rig rig(provisioned_deployment());
    auto report = deploy::run_provision(rig.s(), {"m*"}, true);
    CHECK(result(report.machines, "m1").outcome == deploy::ProvisionOutcome::Planned);
    CHECK(provider::records(rig.state()).empty());
}

TEST_CASE("provision: a state that cannot be saved fails the machines, naming why") {
    Rig rig(provisioned_deployment(), std::make_unique<FailingStore>());
    auto report = deploy::run_provision(rig.s(), {}, false);
    CHECK_FALSE(report.ok());
    for (const auto* name : {"m1", "m2"}) {
        CAPTURE(name);
        const auto& m = result(report.machines, name);
        CHECK(m.outcome == deploy::ProvisionOutcome::Failed);
        CHECK(m.error.find("No space left on device") != std::string::npos);
        CHECK(rig.events.said(name, "provisioning failed"));
    }
    CHECK(result(report.machines, "x").ok());
}

TEST_CASE("provision: an orphan in state is reported") {
    state::State st;
    provider::Record r;
    r.provider = "here";
    r.type = "existing";
    r.id = "10.0.0.9:22";
    provider::set_record(st, "old", r);
    Rig rig(provisioned_deployment(), session::memory_state(st));
    auto report = deploy::run_provision(rig.s(), {"m1"}, false);
    CHECK(report.orphans == std::vector<std::string>{"old"});
    CHECK(rig.events.said("old", "fedi provision --destroy old"));
}

TEST_CASE("provision --destroy forgets the machine's record, host keys and generations") {
    Rig rig(provisioned_deployment());
    deploy::run_provision(rig.s(), {"m1"}, false);
    rig.s().state().change([](state::State& st) { st.machines["m1"].host_keys.push_back("k"); });
    auto report =
        deploy::destroy_machine(rig.s(), "m1", [](const auto&, const auto&) { return true; });
    CHECK(report.machines.at(0).outcome == deploy::ProvisionOutcome::Destroyed);
    CHECK_FALSE(provider::find_record(rig.state(), "m1"));
    CHECK(rig.state().machines.count("m1") == 0);
    CHECK_THROWS_AS(
        deploy::destroy_machine(rig.s(), "x", [](const auto&, const auto&) { return true; }),
        Error);
}

namespace {

// accounts.admin: a Mastodon owner on machine social.
model::Deployment with_account() {
    auto d = deployment({machine("social")});
    model::Account a;
    a.name = "admin";
    a.machine = "social";
    a.service = "mastodon";
    a.username = "alice";
    a.email = "alice@example.org";
    d.accounts["admin"] = a;
    return d;
}

} // namespace

TEST_CASE("account reset-password goes through the session's connector and store") {
    Rig rig(with_account());
    auto social = rig.machines->add("social");
    social->on_command = [](const std::string&) {
        return host::CommandResult{0, "OK\nNew password: 0123abcd\n", ""};
    };
    auto r = account::reset_account_password(rig.s(), "admin");
    CHECK(r.result == "password reset");
    CHECK(*r.new_password == "0123abcd");
    CHECK(social->connections == 1);
    auto records = account::load_records(rig.state());
    CHECK(records.accounts.at("admin").password == "0123abcd");
    CHECK(account::list_accounts(rig.s()).at(0).password == "0123abcd");
    CHECK(rig.events.said("social", "password reset"));
}

TEST_CASE("account delete forgets the account in state; an unknown name is a usage error") {
    Rig rig(with_account());
    rig.machines->add("social");
    rig.s().state().change([](state::State& st) {
        account::Records records;
        records.accounts["admin"] = {"mastodon", "social", "alice", "pw", true, "t", "t"};
        account::store_records(st, records);
    });
    auto r = account::delete_account(rig.s(), "admin");
    CHECK(r.result == "deleted");
    CHECK(account::load_records(rig.state()).accounts.count("admin") == 0);
    CHECK_THROWS_AS(account::delete_account(rig.s(), "nobody"), Error);
}
