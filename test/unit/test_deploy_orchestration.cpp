// The orchestration of `fedi deploy` without Nix, root or machines: the phases after the
// build run against fake machines (test::FakeConnector), a state kept in memory and
// recorded events, so `after` order, skipped dependents, storage that blocks its clients,
// dry runs, limits, failures in a machine's work and rollbacks are checked in seconds.
#include "deploy/pending.hpp"
#include "deploy/phases.hpp"
#include "fake_machines.hpp"
#include "session/session.hpp"
#include "state/state.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fmt/format.h>
#include <set>
#include <stdexcept>
#include <thread>

using namespace fedi;
using deploy::Outcome;
using deploy::Phase;

namespace {

std::string system_of(const std::string& machine) {
    return "/nix/store/" + std::string(32, 'a') + "-nixos-system-" + machine;
}

// Pushes to the fake machines, refusing a system the deploy did not prepare.
class FakeClosures : public deploy::Closures {
  public:
    void prepare(const std::string& system) override {
        std::lock_guard<std::mutex> lock(mutex_);
        prepared_.insert(system);
    }
    host::PushProgress
    push(host::Host& host, const std::string& system,
         const std::function<void(const host::PushProgress&)>& progress) override {
        if (!prepared(system))
            throw Error("the closure of " + system + " was pushed before it was prepared");
        auto p = dynamic_cast<test::FakeHost&>(host).push_system(system);
        if (progress)
            progress(p);
        return p;
    }
    // Fake machines lack nothing a fetch could give: everything is pushed.
    std::vector<std::string> missing(host::Host&, const std::string&) override { return {}; }
    std::uint64_t nar_bytes(const std::string&, const std::vector<std::string>&) override {
        return 0;
    }
    cache::UploadProgress
    upload(cache::BinaryCache&, const std::string&, const std::vector<std::string>&,
           const std::function<void(const cache::UploadProgress&)>&) override {
        throw Error("FakeClosures: no binary cache for fake machines");
    }
    bool prepared(const std::string& system) {
        std::lock_guard<std::mutex> lock(mutex_);
        return prepared_.count(system) > 0;
    }

  private:
    std::mutex mutex_;
    std::set<std::string> prepared_;
};

// A deployment of fake machines and the session a deploy of it runs in.
struct Fleet {
    model::Deployment d;
    ui::RecordingEvents events;
    session::Limits limits;
    deploy::DeployOptions opts;
    FakeClosures closures;
    std::unique_ptr<test::FakeConnector> owned = std::make_unique<test::FakeConnector>();
    test::FakeConnector& connector = *owned;
    std::unique_ptr<session::Session> session;

    Fleet() { opts.keep_generations = 0; }

    std::shared_ptr<test::FakeMachine> add(const std::string& name,
                                           std::vector<std::string> after = {}) {
        auto& m = d.machines[name];
        m.name = name;
        m.ssh.host = name + ".test";
        m.system.out_path = system_of(name);
        m.system.drv_path = system_of(name) + ".drv";
        m.after = std::move(after);
        return connector.add(name);
    }

    session::Session& start(state::State initial = {}) {
        if (!session)
            session = std::make_unique<session::Session>(session::Project{d, "(memory)"},
                                                         session::memory_state(std::move(initial)),
                                                         events, std::move(owned), limits);
        return *session;
    }

    // Deploys every machine as if their systems had been built (`failed`: those whose
    // build failed).
    deploy::DeployReport deploy(std::map<std::string, deploy::MachineReport> failed = {}) {
        deploy::BuiltSystems built;
        for (const auto& [name, m] : d.machines)
            built.machines.push_back(name);
        built.failed = std::move(failed);
        return deploy::deploy_built(start(), opts, built, closures);
    }

    state::State state() { return start().state().snapshot(); }
};

const deploy::MachineReport& machine(const deploy::DeployReport& r, const std::string& name) {
    for (const auto& m : r.machines)
        if (m.name == name)
            return m;
    FAIL("no report for machine " << name);
    throw std::logic_error("unreachable");
}

// Records the order in which machines activate.
struct ActivationOrder {
    std::mutex mutex;
    std::vector<std::string> names;
    void watch(test::FakeMachine& m, const std::string& name) {
        m.activation_result = [this, name](const std::string&) {
            std::lock_guard<std::mutex> lock(mutex);
            names.push_back(name);
            return std::string("ok");
        };
    }
    std::size_t position(const std::string& name) {
        return std::find(names.begin(), names.end(), name) - names.begin();
    }
};

} // namespace

TEST_CASE("deploy: machines activate in `after` order and are recorded in state") {
    Fleet f;
    ActivationOrder order;
    for (const auto& [name, after] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"db", {}}, {"cache", {"db"}}, {"web", {"db", "cache"}}, {"proxy", {"web"}}})
        order.watch(*f.add(name, after), name);
    auto r = f.deploy();
    CHECK(r.ok());
    REQUIRE(order.names.size() == 4);
    CHECK(order.position("db") < order.position("cache"));
    CHECK(order.position("cache") < order.position("web"));
    CHECK(order.position("web") < order.position("proxy"));
    for (const auto& name : {"db", "cache", "web", "proxy"}) {
        CHECK(machine(r, name).outcome == Outcome::Activated);
        CHECK(machine(r, name).phase == Phase::None);
        CHECK(f.connector.machine(name)->current == system_of(name));
        auto generations = f.state().machines[name].generations;
        REQUIRE(generations.size() == 1);
        CHECK(generations[0].system == system_of(name));
        CHECK(generations[0].goal == "switch");
        CHECK(generations[0].number == 1);
    }
}

TEST_CASE("deploy: the dependents of a failed machine are skipped, the others deploy") {
    Fleet f;
    f.add("db")->activation_result = [](const std::string&) { return "failed 1, rolled back"; };
    auto web = f.add("web", {"db"});
    f.add("proxy", {"web"});
    f.add("cache");
    auto r = f.deploy();
    CHECK_FALSE(r.ok());
    CHECK(machine(r, "db").outcome == Outcome::Failed);
    CHECK(machine(r, "db").phase == Phase::Activate);
    CHECK(machine(r, "web").outcome == Outcome::Skipped);
    CHECK(machine(r, "web").error == "not deployed: it comes after db, which did not deploy");
    CHECK(machine(r, "proxy").outcome == Outcome::Skipped);
    CHECK(machine(r, "proxy").error == "not deployed: it comes after web, which did not deploy");
    CHECK(machine(r, "cache").outcome == Outcome::Activated);
    CHECK(web->connections == 0);
    CHECK(f.events.said("db", "activate failed: switch-to-configuration switch failed"));
    // Kept for the next run, which retries the machine instead of calling it unchanged.
    auto pending = deploy::pending_failure(f.state(), "machines.db");
    REQUIRE(pending);
    CHECK(pending->phase == "activate");
    CHECK(pending->system == system_of("db"));
    CHECK_FALSE(deploy::pending_failure(f.state(), "machines.cache"));
}

TEST_CASE("deploy: a failed activation is reported with what the rollback put back") {
    Fleet f;
    auto web = f.add("web");
    web->activation_lines = {"activating the configuration...",
                             "fedi: setting the profile back to generation 3",
                             "fedi: activating the previous system /nix/store/old-system"};
    web->activation_result = [](const std::string&) { return "failed 4, rolled back"; };
    auto r = f.deploy();
    const auto& m = machine(r, "web");
    CHECK(m.outcome == Outcome::Failed);
    CHECK(m.phase == Phase::Activate);
    CHECK(m.error == "switch-to-configuration switch failed (exit status 4); rolled back: the "
                     "system profile was set back to generation 3; the previously running "
                     "system /nix/store/old-system was activated again");
    CHECK(m.log_tail == web->activation_lines);
    CHECK(f.state().machines["web"].generations.empty());
}

TEST_CASE("deploy --no-rollback: a failed activation leaves the failed system in place") {
    Fleet f;
    f.opts.rollback = false;
    f.add("web")->activation_result = [](const std::string&) { return "failed 4"; };
    CHECK(machine(f.deploy(), "web").error ==
          "switch-to-configuration switch failed (exit status 4); the failed system was left in "
          "place (--no-rollback)");
}

TEST_CASE("deploy: storage that fails blocks only the machines that receive its keys") {
    const char* token_variable = "FEDI_TEST_ORCHESTRATION_UNSET_TOKEN";
    unsetenv(token_variable);
    Fleet f;
    auto web = f.add("web");
    f.add("other");
    auto& s = f.d.storage["s3"];
    s.name = "s3";
    s.s3_endpoint = "http://127.0.0.1:1";
    s.admin_endpoint = "http://127.0.0.1:1";
    s.region = "garage";
    s.allow_insecure_http = true;
    s.admin_token.env = token_variable;
    s.admin_token.origin = "storage.s3.adminToken";
    auto& b = f.d.buckets["media"];
    b.name = "media";
    b.storage = "s3";
    auto& key = b.keys["app"];
    key.name = "app";
    key.deliver_to.push_back({});
    key.deliver_to.back().machine = "web";

    auto r = f.deploy();
    CHECK_FALSE(r.ok());
    REQUIRE(r.storage);
    CHECK_FALSE(r.storage->ok());
    REQUIRE(r.storage->storages.size() == 1);
    CHECK_THAT(r.storage->storages[0].error, Catch::Contains(token_variable));
    CHECK(machine(r, "web").outcome == Outcome::Failed);
    CHECK(machine(r, "web").phase == Phase::Storage);
    CHECK_THAT(machine(r, "web").error, Catch::StartsWith("storage s3 failed: "));
    CHECK(web->connections == 0);
    CHECK(machine(r, "other").outcome == Outcome::Activated);
}

TEST_CASE("deploy: never more pushes or machines at once than the limits") {
    Fleet f;
    f.limits.pushes = 2;
    f.limits.machines = 3;
    std::atomic<int> pushing{0}, most_pushing{0}, working{0}, most_working{0};
    auto raise = [](std::atomic<int>& now, std::atomic<int>& most) {
        int n = ++now;
        int seen = most.load();
        while (n > seen && !most.compare_exchange_weak(seen, n)) {
        }
    };
    for (int i = 0; i < 8; ++i) {
        auto m = f.add(fmt::format("m{}", i));
        m->on_connect = [&] { raise(working, most_working); };
        m->on_push = [&](const std::string&) {
            raise(pushing, most_pushing);
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            --pushing;
        };
        m->activation_result = [&](const std::string&) {
            --working;
            return std::string("ok");
        };
    }
    auto r = f.deploy();
    CHECK(r.ok());
    CHECK(most_pushing.load() <= 2);
    CHECK(most_working.load() <= 3);
    // The limits were reached, so they were what held the machines back.
    CHECK(most_pushing.load() == 2);
    CHECK(most_working.load() == 3);
}

TEST_CASE("deploy: an exception in one machine's work fails that machine only") {
    Fleet f;
    f.add("bad")->on_push = [](const std::string&) {
        throw std::invalid_argument("stoi: no conversion");
    };
    f.add("refused")->on_connect = [] { throw std::runtime_error("connection reset"); };
    f.add("after-bad", {"bad"});
    f.add("good");
    auto r = f.deploy();
    CHECK(machine(r, "bad").outcome == Outcome::Failed);
    CHECK(machine(r, "bad").phase == Phase::Push);
    CHECK(machine(r, "bad").error == "stoi: no conversion");
    CHECK(machine(r, "refused").outcome == Outcome::Failed);
    CHECK(machine(r, "refused").phase == Phase::Connect);
    CHECK(machine(r, "after-bad").outcome == Outcome::Skipped);
    CHECK(machine(r, "good").outcome == Outcome::Activated);
    CHECK(f.events.said("bad", "push failed: stoi: no conversion"));
}

TEST_CASE("deploy: a machine already running its system gets its secrets only") {
    Fleet f;
    auto web = f.add("web");
    web->profile = web->current = system_of("web");
    web->generation = 5;
    auto& secret = f.d.secrets["token"];
    secret.name = "token";
    secret.file = "token";
    secret.machines = {"web"};
    auto r = f.deploy();
    CHECK(r.ok());
    const auto& m = machine(r, "web");
    CHECK(m.outcome == Outcome::Unchanged);
    CHECK(m.paths_sent == 0);
    CHECK(m.generation == 5);
    CHECK(web->received.empty());
    CHECK(web->generation == 5);
    REQUIRE(web->secrets.size() == 1);
    CHECK(web->secrets[0].name == "token");
    CHECK(web->secrets[0].content.size() == 32);
    CHECK(f.events.said("web", "already running this system"));
    // The generation no run had recorded is recorded now.
    auto generations = f.state().machines["web"].generations;
    REQUIRE(generations.size() == 1);
    CHECK(generations[0].number == 5);
}

TEST_CASE("deploy: a machine whose build failed is not connected, and its dependents skip") {
    Fleet f;
    auto db = f.add("db");
    f.add("web", {"db"});
    deploy::MachineReport failed;
    failed.name = "db";
    failed.system = system_of("db");
    failed.outcome = Outcome::Failed;
    failed.phase = Phase::Build;
    failed.error = "builder for 'db.drv' failed with exit code 1";
    auto r = f.deploy({{"db", failed}});
    CHECK(machine(r, "db").outcome == Outcome::Failed);
    CHECK(machine(r, "db").phase == Phase::Build);
    CHECK(machine(r, "web").outcome == Outcome::Skipped);
    CHECK(db->connections == 0);
    CHECK_FALSE(f.closures.prepared(system_of("db")));
    CHECK(f.closures.prepared(system_of("web")));
}

TEST_CASE("deploy goal push sends the closure and activates nothing") {
    Fleet f;
    f.opts.goal = model::Goal::Push;
    auto web = f.add("web");
    auto r = f.deploy();
    CHECK(machine(r, "web").outcome == Outcome::Pushed);
    CHECK(machine(r, "web").paths_sent == 1);
    CHECK(web->received == std::vector<std::string>{system_of("web")});
    CHECK(web->profile.empty());
    CHECK(f.state().machines["web"].generations.empty());
}

TEST_CASE("deploy: accounts connect through the session's connector") {
    Fleet f;
    auto web = f.add("web");
    // The deploy's connection goes through; the accounts' (the second) is refused.
    web->on_connect = [&web] {
        if (web->connections > 0)
            throw Error("connection refused by the test");
    };
    auto& a = f.d.accounts["admin"];
    a.name = "admin";
    a.machine = "web";
    a.service = "mastodon";
    a.username = "admin";
    auto r = f.deploy();
    CHECK(machine(r, "web").outcome == Outcome::Activated);
    REQUIRE(r.accounts.size() == 1);
    CHECK(r.accounts[0].result == "failed");
    CHECK(r.accounts[0].error == "cannot connect to web: connection refused by the test");
    CHECK(web->connections == 1);
    auto pending = deploy::pending_failure(f.state(), "accounts.admin");
    REQUIRE(pending);
    CHECK(pending->phase == "account");
}
