// Pre-flight checks (model/checks): the rules themselves, and that a deployment breaking
// them is refused at parse time with the attribute path at fault.
#include "model/checks.hpp"
#include "model/deployment.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace fedi;
using nlohmann::json;

namespace {

using fedi::test::derivation;
using fedi::test::usage_message;

json base() {
    json m = {{"ssh", {{"host", "10.0.0.1"}}}, {"system", derivation("s")}};
    return {{"machines", {{"web", m}}}};
}

json mastodon_account(const std::string& username, const std::string& email) {
    return {{"machine", "web"}, {"service", "mastodon"}, {"username", username}, {"email", email}};
}

} // namespace

TEST_CASE("secret file names: a safe charset, nothing that leaves the directory") {
    for (const char* ok : {"api-token", "a.env", "X_1", "0key"})
        CHECK(model::safe_file_name(ok));
    for (const char* bad :
         {"", "../x", "a/b", ".hidden", "-rf", "a b", "a;b", "$(id)", "a`b`", "..", "a\nb", "ü"})
        CHECK_FALSE(model::safe_file_name(bad));
    CHECK_FALSE(model::safe_file_name(std::string(129, 'a')));
}

TEST_CASE("owners and groups: POSIX user and group names or numeric ids") {
    for (const char* ok : {"root", "mastodon", "_apt", "www-data", "nixbld1", "1000", "host$"})
        CHECK(model::posix_account_name(ok));
    for (const char* bad : {"", "Root", "1abc", "-x", "a b", "a:b", "a;b", "a/b", "ü"})
        CHECK_FALSE(model::posix_account_name(bad));
    CHECK_FALSE(model::posix_account_name(std::string(33, 'a')));
}

TEST_CASE("modes: at most 0777, never writable by others, readable by others only if allowed") {
    CHECK_FALSE(model::mode_problem(0400, false));
    CHECK_FALSE(model::mode_problem(0640, false));
    CHECK_FALSE(model::mode_problem(0444, true));
    CHECK_THAT(*model::mode_problem(0444, false), Catch::Contains("allowWorldReadable"));
    CHECK_THAT(*model::mode_problem(0604, false), Catch::Contains("read the secret"));
    CHECK_THAT(*model::mode_problem(0777, true), Catch::Contains("replace the secret"));
    CHECK_THAT(*model::mode_problem(01000, true), Catch::Contains("at most 0777"));
}

TEST_CASE("e-mail: RFC 5322's dot-atom subset") {
    for (const char* ok : {"o'brien@example.org", "a.b+tag@mail.example.org", "x@e.org",
                           "{weird}!#$%&*/=?^_`|~-@example.org", "UPPER@EXAMPLE.ORG"})
        CHECK(model::valid_email(ok));
    for (const char* bad :
         {"", "@example.org", "a@", "a", "a@@example.org", "a b@example.org", ".a@example.org",
          "a.@example.org", "a..b@example.org", "a@example..org", "a@-example.org", "a@localhost",
          "a\"b@example.org", "a@exa mple.org", "a@example.org.", "a@ex_ample.org", "a(b)@e.org"})
        CHECK_FALSE(model::valid_email(bad));
    CHECK_FALSE(model::valid_email(std::string(65, 'a') + "@example.org"));
}

TEST_CASE("ssh hosts and users") {
    for (const char* ok : {"203.0.113.7", "web.example.org", "localhost", "s3-1", "::1",
                           "2001:db8::7", "fe80::1%eth0", "example.org."})
        CHECK(model::valid_ssh_host(ok));
    for (const char* bad : {"", "root@web", "web:22", "[::1]", "web example", "-oProxyCommand=x",
                            "999.1.1.1", "web_1.example.org", "a..b", "ssh://web", "-web"})
        CHECK_FALSE(model::valid_ssh_host(bad));
    for (const char* ok : {"root", "deploy", "Deploy.User", "_svc"})
        CHECK(model::valid_ssh_user(ok));
    for (const char* bad : {"", "root@web", "-oX", "a b", "a;b", "1x"})
        CHECK_FALSE(model::valid_ssh_user(bad));
}

TEST_CASE("Mastodon's reserved usernames, compared lower-cased") {
    for (const char* r : {"admin", "Admin", "support", "help", "root", "webmaster", "administrator",
                          "mod", "MODERATOR"})
        CHECK(model::reserved_username("mastodon", r));
    CHECK_FALSE(model::reserved_username("mastodon", "owner"));
    CHECK_FALSE(model::reserved_username("mastodon", "admins"));
    CHECK_FALSE(model::reserved_username("pixelfed", "admin"));
}

TEST_CASE("container labels: lower-cased, other characters become '-'") {
    CHECK(model::host_label("S3_1") == "s3-1");
    CHECK(model::host_label("s3-1") == "s3-1");
    CHECK(model::host_label("web.a") == "web-a");
    CHECK(model::host_label("1web") == "m-1web");
}

TEST_CASE("a deployment breaking a pre-flight rule is refused with its attribute path") {
    json j = base();
    SECTION("secret file name with ../") {
        j["secrets"]["s"] = {{"machine", "web"}, {"name", "../etc/passwd"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.name: invalid file name "
                                                       "\"../etc/passwd\""));
    }
    SECTION("secret file name with shell characters") {
        j["secrets"]["s"] = {{"machine", "web"}, {"name", "x;reboot"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.name: invalid file name"));
    }
    SECTION("invalid owner") {
        j["secrets"]["s"] = {{"machine", "web"}, {"owner", "mast odon"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.owner: invalid user name "
                                                       "\"mast odon\""));
    }
    SECTION("invalid group") {
        j["secrets"]["s"] = {{"machine", "web"}, {"group", "a:b"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.group: invalid group name"));
    }
    SECTION("mode 0777") {
        j["secrets"]["s"] = {{"machine", "web"}, {"mode", "0777"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.mode: mode 0777 lets every user "
                                                       "of the machine replace"));
    }
    SECTION("world-readable without allowWorldReadable") {
        j["secrets"]["s"] = {{"machine", "web"}, {"mode", "0444"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.mode: mode 0444 lets every user "
                                                       "of the machine read"));
    }
    SECTION("world-readable with allowWorldReadable") {
        j["secrets"]["s"] = {{"machine", "web"}, {"mode", "0444"}, {"allowWorldReadable", true}};
        CHECK(usage_message(j) == "no error");
        auto d = model::parse_deployment(j, "/d/deployment.nix");
        CHECK(d.secrets.at("s").allow_world_readable);
        CHECK(model::to_json(d)["secrets"]["s"]["allowWorldReadable"] == true);
    }
    SECTION("allowWorldReadable must be a boolean") {
        j["secrets"]["s"] = {{"machine", "web"}, {"allowWorldReadable", "yes"}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("secrets.s.allowWorldReadable:"));
    }
    SECTION("reserved Mastodon username") {
        j["accounts"]["boss"] = mastodon_account("admin", "a@example.org");
        CHECK_THAT(usage_message(j), Catch::StartsWith("accounts.boss.username: Mastodon reserves "
                                                       "the username \"admin\""));
    }
    SECTION("an apostrophe in an e-mail address is valid") {
        j["accounts"]["boss"] = mastodon_account("owner", "o'brien@example.org");
        CHECK(usage_message(j) == "no error");
    }
    SECTION("malformed e-mail") {
        j["accounts"]["boss"] = mastodon_account("owner", "owner@@example.org");
        CHECK(usage_message(j) ==
              "accounts.boss.email: \"owner@@example.org\" is not an e-mail address");
    }
    SECTION("malformed identity user e-mail") {
        j["identity"]["d"] = {{"url", "ldap://x"},
                              {"baseDN", "dc=x"},
                              {"bindDN", "cn=a,dc=x"},
                              {"bindPasswordFile", "/p"},
                              {"users", {{"alice", {{"email", "alice"}}}}}};
        CHECK_THAT(usage_message(j), Catch::StartsWith("identity.d.users.alice.email:"));
    }
    SECTION("ssh host with a user in it") {
        j["machines"]["web"]["ssh"]["host"] = "root@10.0.0.1";
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.web.ssh.host: invalid host "
                                                       "\"root@10.0.0.1\""));
    }
    SECTION("ssh user that is an option") {
        j["machines"]["web"]["ssh"]["user"] = "-oProxyCommand=x";
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.web.ssh.user: invalid user name"));
    }
    SECTION("missing identity file") {
        j["machines"]["web"]["ssh"]["identityFile"] = "/nonexistent/fedi-test-key";
        CHECK(usage_message(j) == "machines.web.ssh.identityFile: /nonexistent/fedi-test-key "
                                  "does not exist on the deployer");
    }
    SECTION("identity file that is a directory") {
        j["machines"]["web"]["ssh"]["identityFile"] = "/";
        CHECK(usage_message(j) == "machines.web.ssh.identityFile: / is not a file");
    }
    SECTION("bucket key delivered world-readable") {
        j["storage"]["g"] = {{"type", "rgw"},
                             {"s3Endpoint", "https://rgw:7480"},
                             {"region", "r"},
                             {"accessKeyFile", "/a"},
                             {"secretKeyFile", "/s"}};
        j["buckets"]["media"] = {{"storage", "g"},
                                 {"keys",
                                  {{"app",
                                    {{"read", true},
                                     {"write", true},
                                     {"deliverTo", {{"machine", "web"}, {"mode", "0644"}}}}}}}};
        CHECK_THAT(usage_message(j),
                   Catch::StartsWith("buckets.media.keys.app.deliverTo.mode: mode 0644"));
        j["buckets"]["media"]["keys"]["app"]["deliverTo"]["allowWorldReadable"] = true;
        CHECK(usage_message(j) == "no error");
    }
    SECTION("a secret and a bucket key in the same file") {
        j["storage"]["g"] = {{"type", "rgw"},
                             {"s3Endpoint", "https://rgw:7480"},
                             {"region", "r"},
                             {"accessKeyFile", "/a"},
                             {"secretKeyFile", "/s"}};
        j["buckets"]["media"] = {
            {"storage", "g"},
            {"keys",
             {{"app", {{"read", true}, {"write", true}, {"deliverTo", {{"machine", "web"}}}}}}}};
        j["secrets"]["s"] = {{"machine", "web"}, {"name", "media-app.env"}};
        CHECK(usage_message(j) == "buckets.media.keys.app.deliverTo: web would receive "
                                  "media-app.env twice (also from secrets.s.name)");
    }
    SECTION("two machines as one Proxmox VM name") {
        j["providers"]["pve"] = {{"type", "proxmox"},
                                 {"endpoint", "https://pve1:8006"},
                                 {"node", "pve1"},
                                 {"tokenFile", "/run/secrets/pve"}};
        json m = {{"provision", {{"provider", "pve"}, {"template", 9000}}},
                  {"system", derivation("s")}};
        j["machines"]["db"] = m;
        j["machines"]["db2"] = m;
        CHECK(usage_message(j) == "no error");
        j["machines"]["db2"]["provision"]["name"] = "DB";
        CHECK(usage_message(j) == "machines.db2.provision.name: machines db and db2 would both "
                                  "be the VM \"DB\" of providers.pve; set provision.name on one");
    }
    SECTION("container machines whose names collide after normalisation") {
        j["providers"]["local"] = {{"type", "container"}};
        json m = {{"provision", {{"provider", "local"}}}, {"system", derivation("s")}};
        j["machines"]["S3_1"] = m;
        j["machines"]["s3-1"] = m;
        CHECK(usage_message(j) == "machines.s3-1: machines S3_1 and s3-1 would both be the "
                                  "container \"s3-1\" (names are lower-cased and '_' and '.' "
                                  "become '-'); rename one");
    }
}

TEST_CASE("a readable identity file passes; an unreadable one is refused") {
    auto dir =
        std::filesystem::temp_directory_path() / ("fedi-checks-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto key = dir / "id";
    std::ofstream(key) << "key\n";
    json j = base();
    j["machines"]["web"]["ssh"]["identityFile"] = key.string();
    CHECK(usage_message(j) == "no error");
    if (::geteuid() != 0) { // root reads anything
        ::chmod(key.c_str(), 0);
        CHECK_THAT(usage_message(j), Catch::StartsWith("machines.web.ssh.identityFile: " +
                                                       key.string() + " cannot be read"));
    }
    std::filesystem::remove_all(dir);
}
