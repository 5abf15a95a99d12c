// The plan's JSON document: written and read back to the same plan (saved plans), and
// refused, naming the field, when it is not a plan.
#include "core/error.hpp"
#include "golden.hpp"
#include "plan/apply.hpp"
#include "plan/plan_json.hpp"
#include "plan_samples.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <filesystem>

using namespace fedi;
using nlohmann::json;

TEST_CASE("plan json: a plan read back is the plan written") {
    auto p = test::full_plan();
    auto doc = plan::to_json(p);
    auto back = plan::from_json(json::parse(doc.dump()));
    CHECK(plan::to_json(back) == doc);
    REQUIRE(back.machines.size() == p.machines.size());
    const auto& web = back.machines[3];
    CHECK(web.system.generation == 4);
    CHECK(web.system.activation == plan::Activation::Activate);
    CHECK(web.system.packages == p.machines[3].system.packages);
    CHECK(web.provision.changes == p.machines[3].provision.changes);
    CHECK(back.machines[2].system.generation == std::nullopt);
    CHECK(back.goal == model::Goal::Switch);
    CHECK(back.observed == p.observed);
    CHECK(back.changes());
    CHECK_FALSE(back.ok());
}

TEST_CASE("plan json: derived fields say what the plan says") {
    auto doc = plan::to_json(test::full_plan());
    CHECK(doc["schemaVersion"] == plan::kSchemaVersion);
    CHECK(doc["changes"] == true);
    CHECK(doc["ok"] == false);
    CHECK(doc["machines"][0]["changes"] == false);
    CHECK(doc["machines"][3]["changes"] == true);
}

TEST_CASE("plan json: a document that is not a plan is refused naming what is wrong") {
    auto doc = plan::to_json(test::full_plan());
    auto without = doc;
    without["machines"][0]["system"].erase("bytesToSend");
    CHECK_THROWS_WITH(plan::from_json(without), Catch::Contains("bytesToSend"));
    auto bad_action = doc;
    bad_action["storage"]["items"][0]["action"] = "explode";
    CHECK_THROWS_WITH(plan::from_json(bad_action), Catch::Contains("unknown action 'explode'"));
    auto bad_goal = doc;
    bad_goal["goal"] = "fly";
    CHECK_THROWS_WITH(plan::from_json(bad_goal), Catch::Contains("unknown goal \"fly\""));
    CHECK_THROWS_AS(plan::from_json(json::array()), Error);
}

TEST_CASE("plan json: the document of every kind of change (validated by test_plan_schema.py)") {
    fedi::test::check_golden("plan/full.json", plan::to_json(test::full_plan()).dump(2) + "\n");
}

TEST_CASE("plan json: a saved plan reads back, and a failed write names the plan file") {
    test::TempDir dir;
    auto p = test::full_plan();
    std::string file = dir.path() + "/plan.json";
    plan::write_plan_file(file, p);
    CHECK(plan::to_json(plan::read_plan_file(file)) == plan::to_json(p));
    // A directory where the file should go: the rename fails.
    std::string blocked = dir.path() + "/blocked";
    std::filesystem::create_directory(blocked);
    try {
        plan::write_plan_file(blocked, p);
        FAIL("written over a directory");
    } catch (const Error& e) {
        CHECK_THAT(e.describe(), Catch::Contains("cannot replace plan file " + blocked));
        CHECK_THAT(e.describe(), !Catch::Contains("state file"));
    }
}
