// The Garage layout as a plan shows it: node by node, old → new (storage::layout_changes).
#include "storage/converge.hpp"

#include <catch2/catch.hpp>

using namespace fedi::storage;

namespace {

const std::string kIdA(64, 'a');
const std::string kIdB(64, 'b');

NodeRole applied(const std::string& id, const std::string& zone, std::uint64_t capacity,
                 std::vector<std::string> tags) {
    return {"", id, zone, capacity, std::move(tags)};
}

NodeRole declared(const std::string& machine, const std::string& id, const std::string& zone,
                  std::uint64_t capacity) {
    return {machine, id, zone, capacity, {machine}};
}

} // namespace

TEST_CASE("layout changes: a node as applied is no change", "[plan][storage]") {
    LayoutView v;
    v.version = 3;
    v.current = {applied(kIdA, "dc1", 1000, {"s3-1"})};
    v.wanted = {declared("s3-1", kIdA, "dc1", 1000)};
    CHECK(layout_changes(v).empty());
}

TEST_CASE("layout changes: zone, capacity and tags old → new", "[plan][storage]") {
    LayoutView v;
    v.current = {applied(kIdA, "dc1", 1000, {"hand", "s3-1"})};
    v.wanted = {declared("s3-1", kIdA, "dc2", 2000)};
    auto c = layout_changes(v);
    REQUIRE(c.size() == 1);
    CHECK(c[0].kind == "node");
    CHECK(c[0].name == "s3-1");
    CHECK(c[0].action == "update");
    CHECK(c[0].fields == std::vector<FieldDiff>{{"zone", "dc1", "dc2"},
                                                {"capacity", "1000", "2000"},
                                                {"tags", "hand,s3-1", "s3-1"}});
}

TEST_CASE("layout changes: a new node is created, a role no node declares is removed",
          "[plan][storage]") {
    LayoutView v;
    v.current = {applied(kIdB, "dc9", 500, {"old"})};
    v.wanted = {declared("s3-1", kIdA, "dc1", 1000)};
    auto c = layout_changes(v);
    REQUIRE(c.size() == 2);
    CHECK(c[0].action == "create");
    CHECK(c[0].fields == std::vector<FieldDiff>{
                             {"zone", "", "dc1"}, {"capacity", "", "1000"}, {"tags", "", "s3-1"}});
    CHECK(c[1].name == "old");
    CHECK(c[1].action == "destroy");
    CHECK(c[1].fields == std::vector<FieldDiff>{
                             {"zone", "dc9", ""}, {"capacity", "500", ""}, {"tags", "old", ""}});
}

TEST_CASE("layout changes: a node whose id is not known yet is matched by its tag",
          "[plan][storage]") {
    LayoutView v;
    v.current = {applied(kIdA, "dc1", 1000, {"s3-1"})};
    v.wanted = {declared("s3-1", "", "dc1", 3000)};
    v.unknown["s3-1"] = "machine s3-1 is not reachable";
    auto c = layout_changes(v);
    REQUIRE(c.size() == 1);
    CHECK(c[0].action == "update");
    CHECK(c[0].fields ==
          std::vector<FieldDiff>{{"capacity", "1000", "3000"},
                                 {"node id", "", "not known yet: machine s3-1 is not reachable"}});
}

TEST_CASE("layout changes: a gateway has no capacity", "[plan][storage]") {
    LayoutView v;
    v.wanted = {{"gw", kIdA, "dc1", std::nullopt, {"gw"}}};
    auto c = layout_changes(v);
    REQUIRE(c.size() == 1);
    CHECK(c[0].fields[1] == FieldDiff{"capacity", "", "gateway"});
}
