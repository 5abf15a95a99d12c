// Secrets, accounts and identity: parsing (errors naming the attribute path), state
// records, secret values, and reading the services' admin-command outputs.
#include "account/password.hpp"
#include "account/records.hpp"
#include "account/secret_values.hpp"
#include "account/services.hpp"
#include "core/error.hpp"
#include "host/secrets.hpp"
#include "model/deployment.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace fedi;
using nlohmann::json;

namespace {

using fedi::test::derivation;
using fedi::test::usage_message;

json machine() {
    return {{"ssh", {{"host", "10.0.0.1"}}},
            {"system",
             {{"__fedi", "derivation"},
              {"drvPath", "/nix/store/aaaa-s.drv"},
              {"outputPath", "/nix/store/bbbb-s"},
              {"name", "s"}}}};
}

json base() {
    return {{"machines", {{"web", machine()}, {"db", machine()}}}};
}

} // namespace

TEST_CASE("secrets, accounts and identity parse into the model") {
    json j = base();
    j["secrets"]["api"] = {{"machine", "web"},
                           {"owner", "nobody"},
                           {"mode", "0440"},
                           {"source", {{"generate", {{"length", 20}}}}}};
    j["secrets"]["token"] = {{"machines", {"web", "db"}},
                             {"name", "token.txt"},
                             {"source", {{"file", {{"__fedi", "path"}, {"value", "/k/t"}}}}}};
    j["secrets"]["rel"] = {{"machine", "db"}, {"source", {{"file", "sub/x"}}}};
    j["secrets"]["cmd"] = {{"machine", "db"}, {"source", {{"command", "pass show x"}}}};
    j["secrets"]["adm"] = {{"machine", "web"},
                           {"environmentVariable", "ADMIN_PASSWORD"},
                           {"source", {{"fromAccount", "masto"}}}};
    j["secrets"]["ldap"] = {
        {"machine", "web"},
        {"source", {{"fromIdentity", {{"directory", "dir"}, {"service", "mastodon"}}}}}};
    j["accounts"]["masto"] = {{"machine", "web"},
                              {"service", "mastodon"},
                              {"username", "owner"},
                              {"email", "o@example.org"}};
    j["accounts"]["pt"] = {{"machine", "db"}, {"service", "peertube"}};
    j["identity"]["dir"] = {{"type", "ldap"},
                            {"url", "ldaps://ldap:636"},
                            {"baseDN", "dc=example,dc=org"},
                            {"bindDN", "cn=admin,dc=example,dc=org"},
                            {"bindPasswordFile", "/k/ldap"},
                            {"users", {{"alice", {{"email", "a@example.org"}}}}},
                            {"services", {"mastodon"}}};
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    const auto& api = d.secrets.at("api");
    CHECK(api.machines == std::vector<std::string>{"web"});
    CHECK(api.file == "api");
    CHECK(api.owner == "nobody");
    CHECK(api.group == "nobody");
    CHECK(api.mode == 0440);
    CHECK(api.source.length == 20);
    CHECK(d.secrets.at("token").file == "token.txt");
    CHECK(d.secrets.at("token").mode == 0400);
    CHECK(d.secrets.at("token").source.file == "/k/t");
    CHECK(d.secrets.at("rel").source.file == "/d/sub/x");
    CHECK(d.secrets.at("cmd").source.command ==
          std::vector<std::string>{"/bin/sh", "-c", "pass show x"});
    CHECK(*d.secrets.at("adm").environment_variable == "ADMIN_PASSWORD");
    CHECK(d.accounts.at("masto").role == "Owner");
    CHECK(d.accounts.at("pt").username == "root");
    const auto& dir = d.identity.at("dir");
    CHECK(dir.user_dn("alice") == "uid=alice,ou=people,dc=example,dc=org");
    CHECK(dir.service_dn("mastodon") == "cn=mastodon,ou=services,dc=example,dc=org");
    auto out = model::to_json(d);
    CHECK(out["secrets"]["api"]["mode"] == "0440");
    CHECK(out["accounts"]["masto"]["username"] == "owner");
}

TEST_CASE("secret and account errors name the attribute path") {
    json j = base();
    SECTION("dangling machine") {
        j["secrets"]["s"] = {{"machines", {"web", "nope"}}};
        CHECK(usage_message(j) == "secrets.s.machines.1: no machine named \"nope\"");
    }
    SECTION("mode as a number") {
        j["secrets"]["s"] = {{"machine", "web"}, {"mode", 400}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.mode: expected an octal mode"));
    }
    SECTION("two sources") {
        j["secrets"]["s"] = {{"machine", "web"},
                             {"source", {{"generate", true}, {"command", "x"}}}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.source: give exactly one"));
    }
    SECTION("machine and machines") {
        j["secrets"]["s"] = {{"machine", "web"}, {"machines", {"db"}}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s: give exactly one of machine"));
    }
    SECTION("unknown attribute") {
        j["secrets"]["s"] = {{"machine", "web"}, {"contents", "x"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.contents: unknown attribute"));
    }
    SECTION("dangling account") {
        j["secrets"]["s"] = {{"machine", "web"}, {"source", {{"fromAccount", "ghost"}}}};
        CHECK(usage_message(j) == "secrets.s.source.fromAccount: no account named \"ghost\"");
    }
    SECTION("two secrets in one file") {
        j["secrets"]["a"] = {{"machine", "web"}, {"name", "same"}};
        j["secrets"]["b"] = {{"machine", "web"}, {"name", "same"}};
        CHECK(usage_message(j) == "secrets.b.name: secrets.a already writes same on web");
    }
    SECTION("account on an unknown machine") {
        j["accounts"]["a"] = {
            {"machine", "x"}, {"service", "mastodon"}, {"username", "u"}, {"email", "u@e.org"}};
        CHECK(usage_message(j) == "accounts.a.machine: no machine named \"x\"");
    }
    SECTION("unknown service") {
        j["accounts"]["a"] = {{"machine", "web"}, {"service", "misskey"}, {"username", "u"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("accounts.a.service: unknown service"));
    }
    SECTION("peertube only manages root") {
        j["accounts"]["a"] = {{"machine", "web"}, {"service", "peertube"}, {"username", "bob"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("accounts.a.username: PeerTube"));
    }
    SECTION("missing email") {
        j["accounts"]["a"] = {{"machine", "web"}, {"service", "pixelfed"}, {"username", "u"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("accounts.a.email: missing"));
    }
    SECTION("identity url") {
        j["identity"]["d"] = {{"url", "http://x"},
                              {"baseDN", "dc=x"},
                              {"bindDN", "cn=a,dc=x"},
                              {"bindPasswordFile", "/p"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("identity.d.url: expected an ldap://"));
    }
    SECTION("identity without a password file") {
        j["identity"]["d"] = {{"url", "ldap://x"}, {"baseDN", "dc=x"}, {"bindDN", "cn=a,dc=x"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("identity.d.bindPasswordFile: missing"));
    }
    SECTION("fromIdentity names an unknown service") {
        j["identity"]["d"] = {{"url", "ldap://x"},
                              {"baseDN", "dc=x"},
                              {"bindDN", "cn=a,dc=x"},
                              {"bindPasswordFile", "/p"},
                              {"services", {"mastodon"}}};
        j["secrets"]["s"] = {
            {"machine", "web"},
            {"source", {{"fromIdentity", {{"directory", "d"}, {"service", "pt"}}}}}};
        CHECK(usage_message(j) ==
              "secrets.s.source.fromIdentity.service: identity.d has no service \"pt\"");
    }
}

TEST_CASE("values fedi chooses are made once and kept in state") {
    json j = base();
    j["secrets"]["gen"] = {{"machine", "web"}, {"owner", "nobody"}, {"mode", "0440"}};
    j["secrets"]["adm"] = {{"machine", "web"},
                           {"environmentVariable", "ADMIN_PASSWORD"},
                           {"source", {{"fromAccount", "masto"}}}};
    j["secrets"]["pf"] = {{"machine", "db"}, {"source", {{"fromAccount", "pix"}}}};
    j["accounts"]["masto"] = {{"machine", "web"},
                              {"service", "mastodon"},
                              {"username", "owner"},
                              {"email", "o@example.org"}};
    j["accounts"]["pix"] = {{"machine", "db"},
                            {"service", "pixelfed"},
                            {"username", "boss"},
                            {"email", "b@example.org"}};
    j["accounts"]["pt"] = {{"machine", "db"}, {"service", "peertube"}};
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    account::Records r;
    CHECK(account::choose_missing(d, r));
    CHECK(r.secrets.at("gen").value.size() == 32);
    CHECK(r.accounts.at("masto").password.empty()); // Mastodon makes up its own
    CHECK(r.accounts.at("pix").password.size() == 32);
    CHECK(r.accounts.at("pt").password.size() == 32);
    auto again = r;
    CHECK_FALSE(account::choose_missing(d, again));
    CHECK(again.secrets.at("gen").value == r.secrets.at("gen").value);
    auto undeclared = model::parse_deployment(base(), "/d/deployment.nix");
    CHECK(account::choose_missing(undeclared, again));
    CHECK(again.secrets.empty()); // forgotten with its declaration

    state::State st;
    account::store_records(st, r);
    auto back = account::load_records(st);
    CHECK(back.accounts.at("pix").password == r.accounts.at("pix").password);
    CHECK(back.secrets.at("gen").value == r.secrets.at("gen").value);

    auto files = account::secret_files(d, {"web", "db"}, r);
    CHECK(files.unresolved == std::vector<std::string>{"adm"}); // no Mastodon password yet
    REQUIRE(files.files["web"].size() == 1);
    const auto& gen = files.files["web"][0];
    CHECK(gen.name == "gen");
    CHECK(gen.content == r.secrets.at("gen").value);
    CHECK(gen.owner == "nobody");
    CHECK(gen.mode == 0440);
    REQUIRE(files.files["db"].size() == 2);
    CHECK(files.files["db"][0].content == r.accounts.at("pix").password);
    CHECK(files.files["db"][1].name == "account-pt.env");
    CHECK(files.files["db"][1].content ==
          "PT_INITIAL_ROOT_PASSWORD=" + r.accounts.at("pt").password + "\n");

    r.accounts["masto"].password = "abc'def";
    files = account::secret_files(d, {"web"}, r);
    CHECK(files.unresolved.empty());
    REQUIRE(files.files["web"].size() == 2);
    CHECK(files.files["web"][0].content == "ADMIN_PASSWORD=\"abc'def\"\n");
    CHECK(files.files["web"][0].name == "adm");
}

TEST_CASE("file and command sources are read on the deployer") {
    char dir[] = "/tmp/fedi-unit-secrets-XXXXXX";
    REQUIRE(mkdtemp(dir));
    std::string file = std::string(dir) + "/value";
    std::ofstream(file) << "from a file\n";
    json j = base();
    j["secrets"]["f"] = {{"machine", "web"}, {"source", {{"file", file}}}};
    j["secrets"]["c"] = {{"machine", "web"},
                         {"environmentVariable", "X"},
                         {"source", {{"command", {"printf", "%s\\n", "out"}}}}};
    auto d = model::parse_deployment(j, "/d/deployment.nix");
    account::Records r;
    auto files = account::secret_files(d, {"web"}, r);
    REQUIRE(files.files["web"].size() == 2);
    CHECK(files.files["web"][0].content == "X=out\n");
    CHECK(files.files["web"][1].content == "from a file\n");

    j["secrets"]["c"]["source"]["command"] = "printf 'secret-%s' output; echo oops >&2; exit 3";
    d = model::parse_deployment(j, "/d/deployment.nix");
    try {
        account::secret_files(d, {"web"}, r);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK_THAT(e.describe(), Catch::Contains("exited with status 3: oops"));
        CHECK_THAT(e.describe(), !Catch::Contains("secret-output"));
    }
    std::remove(file.c_str());
    rmdir(dir);
}

TEST_CASE("passwords: random letters and digits; LDAP SSHA hashes check") {
    auto a = account::random_password(40), b = account::random_password(40);
    CHECK(a.size() == 40);
    CHECK(a != b);
    CHECK(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
          std::string::npos);
    auto h = account::ssha_hash("s3cret");
    CHECK(h.rfind("{SSHA}", 0) == 0);
    CHECK(account::ssha_matches(h, "s3cret"));
    CHECK_FALSE(account::ssha_matches(h, "s3cres"));
    CHECK(account::ssha_hash("s3cret") != h); // salted
    // A known value, computed independently: base64(sha1("secret" "salt1234") "salt1234")
    // with Python's hashlib.
    CHECK(account::ssha_matches("{SSHA}Wcm1xEisNjqp921ALcHfuQ7avFdzYWx0MTIzNA==", "secret"));
    CHECK_FALSE(account::ssha_matches("{SSHA}Wcm1xEisNjqp921ALcHfuQ7avFdzYWx0MTIzNA==", "secreT"));
}

TEST_CASE("environment lines quote what needs quoting") {
    CHECK(account::environment_line("A", "abc123", "o") == "A=abc123\n");
    CHECK(account::environment_line("A", "a b", "o") == "A='a b'\n");
    CHECK(account::environment_line("A", "a'$b", "o") == "A=\"a'\\$b\"\n");
    CHECK_THROWS_AS(account::environment_line("A", "a\nb", "o"), Error);
}

TEST_CASE("reading the services' admin-command outputs") {
    CHECK(*account::parse_mastodon_password("OK\nNew password: 0123abcd\n") == "0123abcd");
    CHECK_FALSE(account::parse_mastodon_password("OK\n").has_value());
    CHECK(account::mastodon_error("Failure/Error: email\n    taken\nFailure/Error: "
                                  "account.username\n    reserved\n") ==
          "email taken; account.username reserved (Mastodon reserves admin, root, support, help, "
          "webmaster, administrator, mod and moderator: choose another username)");
    // Pixelfed's duplicate error quotes the SQL insert with the password hash: cut it.
    std::string err = "[2026] production.ERROR: SQLSTATE[23000]: Integrity constraint "
                      "violation: 1062 Duplicate entry 'boss' for key 'users_username_unique' "
                      "(Connection: mysql, SQL: insert ... sha256$salt$hash ...)";
    auto msg = account::pixelfed_error("", err);
    CHECK(msg == "SQLSTATE[23000]: Integrity constraint violation: 1062 Duplicate entry 'boss' "
                 "for key 'users_username_unique'");
}

TEST_CASE("the machine's list of secret files is parsed") {
    auto list = host::parse_secret_list("nobody nogroup 440 /var/lib/fedi/secrets/api\nroot root "
                                        "400 /var/lib/fedi/secrets/b.env\n");
    REQUIRE(list.size() == 2);
    CHECK(list[0].name == "api");
    CHECK(list[0].owner == "nobody");
    CHECK(list[0].group == "nogroup");
    CHECK(list[0].mode == 0440);
    CHECK(list[1].name == "b.env");
}
