// The secrets part of a plan: diff_secrets against a secrets directory written by the
// real sync script and described by real `stat` and `sha256sum` runs (what a machine's
// probe reports), and the read-only halves factored out of the deploy (forget_stale,
// planned_secret_files, attributes_to_change).
#include "account/identity.hpp"
#include "account/records.hpp"
#include "account/secret_values.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "host/secrets.hpp"
#include "model/deployment.hpp"
#include "plan/parts.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>
#include <unistd.h>

using namespace fedi;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path scratch() {
    char tmpl[] = "/tmp/fedi-plan-secrets-test-XXXXXX";
    return fs::path(mkdtemp(tmpl)) / "secrets";
}

void sync(const fs::path& dir, const std::vector<host::SecretFile>& files) {
    ProcessOptions o;
    o.stdin_data = host::secret_sync_stream(files);
    auto r = run_process({"sh", "-c", host::secret_sync_script(dir.string())}, o);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
}

std::string run(const std::string& script) {
    auto r = run_process({"sh", "-c", script});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
}

// What the directory holds, as a probe describes it: `stat` for owner, group and mode,
// `sha256sum` for the content.
std::vector<plan::SecretFacts> facts_of(const fs::path& dir) {
    std::vector<plan::SecretFacts> out;
    std::istringstream stat(run("cd '" + dir.string() + "' && stat -c '%n %U %G %a' *"));
    std::string name, owner, group, mode;
    while (stat >> name >> owner >> group >> mode)
        out.push_back(
            {name, owner, group, static_cast<unsigned>(std::stoul(mode, nullptr, 8)), ""});
    std::istringstream sums(run("cd '" + dir.string() + "' && sha256sum *"));
    std::string sum;
    while (sums >> sum >> name)
        for (auto& f : out)
            if (f.name == name)
                f.sha256 = sum;
    return out;
}

host::SecretFile secret(std::string name, std::string content, unsigned mode = 0400) {
    host::SecretFile f;
    f.name = std::move(name);
    f.content = std::move(content);
    f.mode = mode;
    f.origin = "secrets." + f.name;
    return f;
}

std::string owner_name() {
    return run("id -un").substr(0, run("id -un").size() - 1);
}

std::string group_name() {
    return run("id -gn").substr(0, run("id -gn").size() - 1);
}

// A file as this test's user writes it (the sync script leaves files to the caller when
// it is not root).
host::SecretFile mine(std::string name, std::string content, unsigned mode = 0400) {
    auto f = secret(std::move(name), std::move(content), mode);
    f.owner = owner_name();
    f.group = group_name();
    return f;
}

std::string summary(const std::vector<plan::SecretPlan>& plans) {
    std::string out;
    for (const auto& p : plans) {
        out += p.name + " " + plan::to_string(p.action) + " [" + p.origin + "]";
        for (const auto& r : p.reasons)
            out += " (" + r + ")";
        out += "\n";
    }
    return out;
}

} // namespace

TEST_CASE("diff_secrets: nothing for files as declared, + ~ - for the others") {
    auto dir = scratch();
    auto a = mine("a.env", "AWS_SECRET_ACCESS_KEY=first\n");
    auto b = mine("b", "kept", 0440);
    auto old = mine("old", "no longer declared");
    sync(dir, {a, b, old});
    auto present = facts_of(dir);
    REQUIRE(present.size() == 3);
    for (const auto& f : present)
        CHECK(f.sha256.size() == 64);

    CHECK(plan::diff_secrets({a, b, old}, {}, present).empty());

    auto changed = a;
    changed.content = "AWS_SECRET_ACCESS_KEY=second\n";
    auto remoded = b;
    remoded.mode = 0400;
    auto added = mine("new", "fresh");
    auto plans = plan::diff_secrets({changed, remoded, added}, {}, present);
    CHECK(summary(plans) == "a.env update [secrets.a.env] (content differs)\n"
                            "b update [secrets.b] (mode 0440 → 0400)\n"
                            "new create [secrets.new]\n"
                            "old destroy []\n");
    // Neither a value nor a digest goes into the plan.
    for (const auto& f : present)
        CHECK_THAT(summary(plans), !Catch::Contains(f.sha256));
    CHECK_THAT(summary(plans), !Catch::Contains("second") && !Catch::Contains("first"));
}

TEST_CASE("diff_secrets: owner and group changes name both sides") {
    auto dir = scratch();
    auto a = mine("a", "x");
    sync(dir, {a});
    auto present = facts_of(dir);
    auto wanted = a;
    wanted.owner = "mastodon";
    wanted.group = "www";
    auto plans = plan::diff_secrets({wanted}, {}, present);
    REQUIRE(plans.size() == 1);
    CHECK(plans[0].action == plan::Action::Update);
    CHECK(plans[0].reasons == std::vector<std::string>{"owner " + owner_name() + " → mastodon",
                                                       "group " + group_name() + " → www"});
}

TEST_CASE("diff_secrets: a value made at deploy is new content") {
    auto dir = scratch();
    sync(dir, {mine("gen", "an old value")});
    auto present = facts_of(dir);
    auto plans =
        plan::diff_secrets({}, {{"gen", "secrets.gen"}, {"key.env", "a bucket key"}}, present);
    CHECK(summary(plans) == "gen update [secrets.gen] (value made at deploy)\n"
                            "key.env create [a bucket key] (value made at deploy)\n");
    // A file both declared with a value and made at deploy is compared as declared.
    auto known = mine("gen", "an old value");
    CHECK(plan::diff_secrets({known}, {{"gen", "secrets.gen"}}, present).empty());
}

TEST_CASE("planned secret files choose nothing: values a deploy chooses are made at deploy") {
    json j = {{"machines",
               {{"web",
                 {{"ssh", {{"host", "10.0.0.1"}}},
                  {"system",
                   {{"__fedi", "derivation"},
                    {"drvPath", "/nix/store/aaaa-s.drv"},
                    {"outputPath", "/nix/store/bbbb-s"},
                    {"name", "s"}}}}}}}};
    j["secrets"]["gen"] = {{"machine", "web"}};
    j["secrets"]["adm"] = {{"machine", "web"}, {"source", {{"fromAccount", "masto"}}}};
    j["accounts"]["masto"] = {{"machine", "web"},
                              {"service", "mastodon"},
                              {"username", "owner"},
                              {"email", "o@example.org"}};
    j["accounts"]["pt"] = {{"machine", "web"}, {"service", "peertube"}};
    auto d = model::parse_deployment(j, "/d/deployment.nix");

    account::Records empty;
    CHECK_THROWS_AS(account::secret_files(d, {"web"}, empty), Error); // the deploy chose first
    auto r = empty;
    account::forget_stale(d, r);
    auto planned = account::planned_secret_files(d, {"web"}, r);
    CHECK(planned.files["web"].empty());
    using Unknown = std::vector<std::pair<std::string, std::string>>;
    CHECK(planned.unknown["web"] == Unknown{{"adm", "secrets.adm"},
                                            {"gen", "secrets.gen"},
                                            {"account-pt.env", "accounts.pt"}});

    // Once chosen, the same values come out of both.
    auto chosen = empty;
    account::choose_missing(d, chosen);
    auto before = chosen;
    CHECK_FALSE(account::forget_stale(d, chosen)); // nothing stale: nothing forgotten
    planned = account::planned_secret_files(d, {"web"}, chosen);
    auto deployed = account::secret_files(d, {"web"}, chosen);
    REQUIRE(planned.files["web"].size() == 2);
    CHECK(planned.files["web"][0].content == deployed.files["web"][0].content);
    CHECK(planned.unknown["web"] == Unknown{{"adm", "secrets.adm"}}); // Mastodon's, later

    // A generated value of another length than declared now is made again.
    chosen.secrets["gen"].value = "short";
    CHECK(account::forget_stale(d, chosen));
    CHECK_FALSE(chosen.secrets.count("gen"));
    // An account declared differently now: what fedi knew is forgotten.
    before.accounts["pt"].username = "someone-else";
    CHECK(account::forget_stale(d, before));
    CHECK(before.accounts["pt"].password.empty());
}

TEST_CASE("directory entries: attributes to change leave objectClass alone") {
    account::LdapAttrs wanted = {
        {"objectClass", {"inetOrgPerson"}}, {"mail", {"a@example.org"}}, {"cn", {"A"}}};
    account::LdapAttrs have = {{"objectClass", {"person"}}, {"cn", {"A"}}};
    CHECK(account::attributes_to_change(wanted, have) ==
          account::LdapAttrs{{"mail", {"a@example.org"}}});
    have["mail"] = {"b@example.org"};
    CHECK(account::attributes_to_change(wanted, have).count("mail"));
    have["mail"] = {"a@example.org"};
    CHECK(account::attributes_to_change(wanted, have).empty());
}
