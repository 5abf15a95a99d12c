// The deploy report as scripts read it (JSON) and people read it (the summary): keys and
// values are a contract.
#include "report/deploy_report.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using deploy::Outcome;
using deploy::Phase;

namespace {

deploy::DeployReport sample() {
    deploy::DeployReport r;
    deploy::MachineReport web;
    web.name = "web";
    web.outcome = Outcome::Activated;
    web.system = "/nix/store/aaaa-web";
    web.paths_sent = 3;
    web.bytes_sent = 2048;
    web.nar_bytes = 1900;
    web.seconds = 1.5;
    web.generation = 7;
    deploy::MachineReport db;
    db.name = "db";
    db.outcome = Outcome::Failed;
    db.phase = Phase::Activate;
    db.system = "/nix/store/aaaa-db";
    db.error = "switch-to-configuration switch failed (exit status 4)\nmore";
    db.log_tail = {"line 1"};
    r.machines = {db, web};
    storage::ConvergeReport s;
    s.storages.push_back({"s3", "s3", false, "cannot reach it", {}});
    s.buckets.push_back({"media", "s3", true, "", {"created"}});
    s.undeclared.push_back("bucket old is kept");
    r.storage = s;
    return r;
}

} // namespace

TEST_CASE("deploy report JSON: the keys and values scripts read") {
    auto j = report::to_json(sample());
    CHECK(j["goal"] == "switch");
    CHECK(j["ok"] == false);
    REQUIRE(j["machines"].size() == 2);
    const auto& db = j["machines"][0];
    CHECK(db["name"] == "db");
    CHECK(db["result"] == "failed");
    CHECK(db["failedPhase"] == "activate");
    CHECK(db["logTail"] == nlohmann::json::array({"line 1"}));
    CHECK(db["generation"].is_null());
    const auto& web = j["machines"][1];
    CHECK(web == nlohmann::json{{"name", "web"},
                                {"result", "deployed"},
                                {"system", "/nix/store/aaaa-web"},
                                {"pathsSent", 3},
                                {"bytesSent", 2048},
                                {"narBytes", 1900},
                                {"seconds", 1.5},
                                {"generation", 7}});
    CHECK(j["storage"]["ok"] == false);
    CHECK(j["storage"]["buckets"][0]["changes"][0] == "created");
    CHECK_FALSE(j.contains("accounts"));
    CHECK_FALSE(j.contains("errors"));
}

TEST_CASE("deploy report summary: machines, storage changes and failures") {
    auto text = report::render_summary(sample(), false);
    CHECK_THAT(text, Catch::Contains("activate: switch-to-configuration switch failed (exit "
                                     "status 4)\n"));
    CHECK_THAT(text, Catch::Contains("generation 7"));
    CHECK_THAT(text, Catch::Contains("storage s3: FAILED: cannot reach it\n"));
    CHECK_THAT(text, Catch::Contains("bucket media: created\n"));
    CHECK_THAT(text, Catch::Contains("note: bucket old is kept\n"));
    CHECK_THAT(text, !Catch::Contains("more"));
}
