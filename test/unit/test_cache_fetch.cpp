// The deploy side of the fleet fan-out, its pure parts: the commands a machine runs to
// fetch store paths itself, what its Nix says while it does (lines as Nix 2.8 prints
// them), which deploys use the binary cache, the per-machine option, and how the report
// shows where bytes came from. The fetch itself, with real Nix on test hosts, is
// test/integration/test_cache_fetch.py.
#include "cache/target.hpp"
#include "core/error.hpp"
#include "deploy/fleet_cache.hpp"
#include "host/substitute.hpp"
#include "model/deployment.hpp"
#include "report/deploy_report.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>

using namespace fedi;

namespace {

const std::string kPath = "/nix/store/am5dkzpldsd5wdcah055b7izr2fs4sfd-hello-1.0";
const std::string kSystem = "/nix/store/y5bpply7gvzlm1xn4387k442nqq857v7-nixos-system-cfx-1";

host::RealiseLog read_all(const std::vector<std::string>& lines) {
    host::RealiseLog log;
    for (const auto& l : lines)
        log.read(l);
    return log;
}

} // namespace

TEST_CASE("cache fetch: the machine realises the listed paths from the cache only") {
    host::Substituter cache{"http://10.0.0.9:8080/cache", "fleet-1:AAAA+bb="};
    CHECK(host::realise_command("/tmp/fedi-paths.x1", cache) ==
          "xargs -r nix-store --realise --keep-going --option substituters "
          "http://10.0.0.9:8080/cache --option trusted-public-keys fleet-1:AAAA+bb= --option "
          "require-sigs true --option narinfo-cache-negative-ttl 0 --option "
          "narinfo-cache-positive-ttl 0 --option connect-timeout 15 --option download-attempts 2 "
          "< /tmp/fedi-paths.x1 > /dev/null; s=$?; rm -f /tmp/fedi-paths.x1; exit $s");
    // Its own substituters: no option overrides what the machine is configured with.
    CHECK(host::realise_command("/tmp/f", std::nullopt) ==
          "xargs -r nix-store --realise --keep-going < /tmp/f > /dev/null; s=$?; rm -f /tmp/f; "
          "exit $s");
    // A URL with query parameters stays one word.
    auto s3 =
        host::realise_command("/tmp/f", host::Substituter{"s3://b?endpoint=e&region=r", "k:x"});
    CHECK_THAT(s3, Catch::Contains("--option substituters 's3://b?endpoint=e&region=r'"));
}

TEST_CASE("cache fetch: an s3:// cache is read with the read key's profile") {
    CHECK(cache::s3_substituter_url("nix-cache", "http://127.0.0.1:7480", "us-east-1",
                                    "fedi-cache") ==
          "s3://nix-cache?endpoint=127.0.0.1:7480&region=us-east-1&scheme=http&profile=fedi-cache");
    CHECK(cache::s3_substituter_url("c", "https://s3.example.org", "garage", "p") ==
          "s3://c?endpoint=s3.example.org&region=garage&scheme=https&profile=p");
    CHECK(cache::s3_substituter_url("c", "s3.example.org:3900", "garage", "p") ==
          "s3://c?endpoint=s3.example.org:3900&region=garage&scheme=https&profile=p");

    auto file = host::cache_credentials_file("fedi-cache", "AKIDREAD", "s3cr3t/+x");
    CHECK(file.name == "aws-credentials");
    CHECK((file.owner == "root" && file.group == "root" && file.mode == 0600));
    CHECK(file.content ==
          "[fedi-cache]\naws_access_key_id = AKIDREAD\naws_secret_access_key = s3cr3t/+x\n");
    CHECK_NOTHROW(host::validate_secret(file));

    // Nix finds the file through the environment; only its path is on the command line.
    host::Substituter cache{"s3://c?endpoint=e&profile=fedi-cache", "k:x", file};
    auto cmd = host::realise_command("/tmp/f", cache);
    CHECK(cmd.rfind("env AWS_SHARED_CREDENTIALS_FILE=/var/lib/fedi/cache/aws-credentials xargs -r "
                    "nix-store --realise",
                    0) == 0);
    CHECK(cmd.find("s3cr3t") == std::string::npos);
    CHECK(cmd.find("AKIDREAD") == std::string::npos);
}

TEST_CASE("cache fetch: what the machine's Nix says while it fetches") {
    SECTION("paths copied from the cache") {
        host::RealiseLog log;
        auto started = log.read("copying path '" + kPath + "' from 'http://127.0.0.1:18931'...");
        REQUIRE(started);
        CHECK(*started == kPath);
        CHECK_FALSE(log.read("these 4 paths will be fetched (0.01 MiB download, 0.01 MiB "
                             "unpacked):"));
        CHECK_FALSE(log.read("  " + kPath));
        CHECK(log.copying == std::set<std::string>{kPath});
        CHECK(log.errors.empty());
        CHECK_FALSE(log.unreachable);
    }
    SECTION("a substitute not signed by the given key") {
        auto log = read_all({"warning: the substitute for '" + kSystem +
                                 "' from 'http://127.0.0.1:18931' is not signed by any of the "
                                 "keys in 'trusted-public-keys'",
                             "error: build of '" + kSystem + "' failed"});
        CHECK(log.unsigned_paths == std::set<std::string>{kSystem});
        CHECK(log.errors.empty()); // "build of … failed" only repeats it
    }
    SECTION("a NAR whose contents were changed") {
        auto log = read_all({"copying path '" + kPath + "' from 'http://127.0.0.1:18931'...",
                             "error: bad archive: expected open tag",
                             "error: hash mismatch importing path '" + kPath + "';"});
        CHECK(log.corrupt.size() == 2);
        CHECK(log.copying.count(kPath));
    }
    SECTION("a cache that cannot be reached") {
        auto log = read_all(
            {"warning: error: unable to download 'http://127.0.0.1:1/nix-cache-info': Couldn't "
             "connect to server (7); retrying in 273 ms",
             "warning: unable to download 'http://127.0.0.1:1/nix-cache-info': Couldn't connect "
             "to server (7)",
             "don't know how to build these paths:", "error: build of '" + kSystem + "' failed"});
        REQUIRE(log.unreachable);
        CHECK(*log.unreachable ==
              "unable to download 'http://127.0.0.1:1/nix-cache-info': Couldn't connect to "
              "server (7)");
        CHECK(log.copying.empty());
        CHECK(log.corrupt.empty());
    }
    SECTION("a kind of cache the machine's Nix cannot open (Nix 2.8 without S3 support)") {
        auto log = read_all({"warning: don't know how to open Nix store "
                             "'s3://c?endpoint=127.0.0.1:7480&region=us-east-1&scheme=http&"
                             "profile=fedi-cache'",
                             "don't know how to build these paths:", "  " + kSystem,
                             "error: build of '" + kSystem + "' failed"});
        REQUIRE(log.unsupported);
        CHECK(*log.unsupported == "don't know how to open Nix store 's3://c?endpoint=127.0.0.1:"
                                  "7480&region=us-east-1&scheme=http&profile=fedi-cache'");
        CHECK(log.errors.empty());
        CHECK_FALSE(log.unreachable);
    }
    SECTION("another error is kept as it was said") {
        auto log = read_all({"error: opening lock file '/nix/var/nix/db/big-lock': Permission "
                             "denied"});
        CHECK(log.errors == std::vector<std::string>{
                                "opening lock file '/nix/var/nix/db/big-lock': Permission denied"});
    }
}

TEST_CASE("transfer choice: which deploys use the binary cache") {
    using deploy::Transfer;
    CHECK(deploy::parse_transfer("push") == Transfer::Push);
    CHECK(deploy::parse_transfer("cache") == Transfer::Cache);
    CHECK(deploy::parse_transfer("auto") == Transfer::Auto);
    CHECK_FALSE(deploy::parse_transfer("s3"));
    // push never does, even with a cache and a fleet.
    CHECK_FALSE(deploy::uses_cache(Transfer::Push, true, 30));
    // cache does whatever the number of machines; without a cache it is a usage error.
    CHECK(deploy::uses_cache(Transfer::Cache, true, 1));
    try {
        deploy::uses_cache(Transfer::Cache, false, 10);
        FAIL("--transfer cache without a cache was accepted");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        CHECK_THAT(e.message(), Catch::Contains("declares no `cache`"));
    }
    // auto: when a cache is declared and more than a few machines deploy.
    CHECK_FALSE(deploy::uses_cache(Transfer::Auto, true, deploy::kAutoCacheMachines));
    CHECK(deploy::uses_cache(Transfer::Auto, true, deploy::kAutoCacheMachines + 1));
    CHECK_FALSE(deploy::uses_cache(Transfer::Auto, false, 30));
}

TEST_CASE("machines.<name>.substituteOnTarget is read and shown by eval") {
    nlohmann::json j = {
        {"machines",
         {{"web",
           {{"ssh", {{"host", "10.0.0.1"}}},
            {"system", test::derivation("web")},
            {"substituteOnTarget", true}}},
          {"db", {{"ssh", {{"host", "10.0.0.2"}}}, {"system", test::derivation("db")}}}}}};
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    CHECK(d.machines.at("web").substitute_on_target);
    CHECK_FALSE(d.machines.at("db").substitute_on_target);
    CHECK(model::to_json(d)["machines"]["web"]["substituteOnTarget"] == true);
    j["machines"]["db"]["substituteOnTarget"] = "yes";
    CHECK_THAT(test::usage_message(j), Catch::Contains("machines.db.substituteOnTarget"));
}

TEST_CASE("deploy report: where each machine's paths came from and the deployer's upload") {
    deploy::DeployReport r;
    deploy::MachineReport web;
    web.name = "web";
    web.outcome = deploy::Outcome::Activated;
    web.paths_sent = 2;
    web.bytes_sent = 3000;
    web.cache_paths = 40;
    web.cache_bytes = 5 * 1024 * 1024;
    web.substituter_paths = 3;
    web.substituter_bytes = 1024;
    deploy::MachineReport db;
    db.name = "db";
    db.outcome = deploy::Outcome::Activated;
    db.bytes_sent = 1000;
    r.machines = {db, web};
    SECTION("pushes only: no cache, nothing fetched") {
        r.machines = {db};
        auto j = report::to_json(r);
        CHECK(j["upload"] == nlohmann::json{{"bytes", 1000}, {"cache", nullptr}});
        CHECK_FALSE(j["machines"][0].contains("fetched"));
        auto text = report::render_summary(r, false);
        CHECK_THAT(text, !Catch::Contains("FETCHED"));
        CHECK_THAT(text, !Catch::Contains("uploaded"));
    }
    SECTION("with the binary cache") {
        r.cache = deploy::CacheUpload{"http://cache.example/c", 40, 2, 6000000};
        auto j = report::to_json(r);
        CHECK(j["upload"]["bytes"] == 6000000 + 3000 + 1000);
        CHECK(j["upload"]["cache"] == nlohmann::json{{"url", "http://cache.example/c"},
                                                     {"pathsUploaded", 40},
                                                     {"pathsPresent", 2},
                                                     {"bytesUploaded", 6000000}});
        CHECK(j["machines"][1]["fetched"] ==
              nlohmann::json{{"cache", {{"paths", 40}, {"narBytes", 5 * 1024 * 1024}}},
                             {"substituters", {{"paths", 3}, {"narBytes", 1024}}}});
        CHECK_FALSE(j["machines"][0].contains("fetched"));
        auto text = report::render_summary(r, false);
        CHECK_THAT(text, Catch::Contains("FETCHED"));
        CHECK_THAT(text, Catch::Contains("cache 40 (5.0 MiB), substituters 3 (1.0 KiB)"));
        CHECK_THAT(text, Catch::Contains("uploaded 5.7 MiB in all (binary cache "
                                         "http://cache.example/c: 40 paths sent, 2 there "
                                         "already, 5.7 MiB)"));
    }
}
