// meta.state: where the state is kept and for whom it is encrypted, validated with
// attribute paths; read on its own before the state (a deployment function gets empty
// resources then); and the codec a project gets from it.
#include "core/error.hpp"
#include "model/state_settings.hpp"
#include "model_test_util.hpp"
#include "nix/eval.hpp"
#include "session/project.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using fedi::test::TempDir;
using fedi::test::usage_message;
using nlohmann::json;

namespace {

const std::string kRecipient = "age1ldusf0sv8asqhgeydqmv6psl74e7zea4pcx34cf9czjjq3cn596qx9kne8";

json with_state(const json& state) {
    return {{"meta", {{"state", state}}}};
}

} // namespace

TEST_CASE("meta.state becomes the model and fedi eval shows it without secrets") {
    json state = {{"url", "postgresql://fedi:hunter2@db.example.org/fedi"},
                  {"encryption", {{"recipients", {kRecipient}}, {"identityFile", "keys/age.txt"}}}};
    auto d = model::parse_deployment(with_state(state), "/d/deployment.nix");
    CHECK(d.state.url == "postgresql://fedi:hunter2@db.example.org/fedi");
    CHECK(d.state.encryption.recipients == std::vector<std::string>{kRecipient});
    CHECK(d.state.encryption.identity_file == "/d/keys/age.txt");
    CHECK(d.state.encrypted());
    auto shown = model::to_json(d)["meta"]["state"];
    CHECK(shown["url"] == "postgresql://fedi:***@db.example.org/fedi");
    CHECK(shown["encryption"]["recipients"][0] == kRecipient);
    CHECK(shown["encryption"]["identityFile"] == "/d/keys/age.txt");
    CHECK(shown["allowPlaintext"] == false);
    CHECK(shown.dump().find("hunter2") == std::string::npos);

    auto local = model::parse_deployment(with_state({{"url", "state/prod.json"}}), "/d/x.nix");
    CHECK(local.state.url == "/d/state/prod.json");
    CHECK_FALSE(local.state.encrypted());
    auto none = model::parse_deployment(json::object(), "/d/x.nix");
    CHECK_FALSE(none.state.url);
    CHECK(model::to_json(none)["meta"]["state"]["url"].is_null());
}

TEST_CASE("meta.state errors name the attribute path") {
    CHECK_THAT(usage_message(with_state({{"encrypton", json::object()}})),
               Catch::StartsWith("meta.state.encrypton: unknown attribute"));
    CHECK_THAT(usage_message(with_state({{"encryption", {{"recipients", {kRecipient, "age1x"}}}}})),
               Catch::StartsWith("meta.state.encryption.recipients.1: expected an age X25519 "
                                 "public key"));
    CHECK_THAT(usage_message(with_state({{"encryption", {{"recipients", kRecipient}}}})),
               Catch::StartsWith("meta.state.encryption.recipients: expected a list of strings"));
    CHECK_THAT(usage_message(with_state({{"url", "ftp://host/state"}})),
               Catch::StartsWith("meta.state.url: unknown kind of state location \"ftp://\""));
    CHECK_THAT(usage_message(with_state({{"allowPlaintext", "yes"}})),
               Catch::StartsWith("meta.state.allowPlaintext: expected a boolean"));
    CHECK_THAT(usage_message(with_state("s3://b/k")),
               Catch::StartsWith("meta.state: expected an attribute set"));
}

TEST_CASE("age recipients are checked for their form") {
    CHECK(model::valid_age_recipient(kRecipient));
    CHECK_FALSE(model::valid_age_recipient(kRecipient.substr(0, 61)));
    CHECK_FALSE(model::valid_age_recipient("AGE1" + kRecipient.substr(4)));
    CHECK_FALSE(model::valid_age_recipient("age1" + std::string(58, 'b'))); // b is not bech32
    CHECK_FALSE(model::valid_age_recipient("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB"));
}

TEST_CASE("meta.state is evaluated alone, before the state, with empty resources") {
    TempDir dir("fedi-meta-state");
    auto file = dir.write("deployment.nix", R"({ resources, ... }: {
  meta.state = { url = "s3://state/prod"; encryption.recipients = [ ")" +
                                                kRecipient +
                                                R"(" ]; };
  machines.web.ssh.host = resources.machines.web.host;
})");
    auto value = nix::evaluate_state_settings(file);
    CHECK(value["url"] == "s3://state/prod");
    CHECK(value["encryption"]["recipients"][0] == kRecipient);

    dir.write("plain.nix", "{ machines = { }; }");
    CHECK(nix::evaluate_state_settings(dir / "plain.nix").is_null());

    dir.write("uses.nix", R"({ resources, ... }: {
  meta.state.url = resources.machines.db.host;
})");
    try {
        nix::evaluate_state_settings(dir / "uses.nix");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        CHECK_THAT(e.describe(), Catch::Contains("attribute 'machines' missing") &&
                                     Catch::Contains("meta.state must not use resources"));
    }
}

TEST_CASE("a project's codec follows meta.state; remote plain state only on purpose") {
    TempDir dir("fedi-meta-state");
    session::ProjectOptions opts;
    opts.deployment_file = dir.write("deployment.nix", "{ meta.state.url = \"s3://b/state\"; }");
    try {
        session::project_codec(opts);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        CHECK_THAT(e.message(), Catch::Contains("s3://b/state is remote") &&
                                    Catch::Contains("meta.state.encryption.recipients") &&
                                    Catch::Contains("allowPlaintext = true"));
    }
    dir.write("deployment.nix",
              "{ meta.state = { url = \"s3://b/state\"; allowPlaintext = true; }; }");
    CHECK(session::project_codec(opts)->describe() == "plain");
    CHECK(session::resolve_state_location(opts) == "s3://b/state");
    // --state wins over meta.state.url, and the local file is plain unless recipients are given.
    opts.state_file = dir / "local.json";
    CHECK(session::resolve_state_location(opts) == dir / "local.json");
    dir.write("deployment.nix",
              "{ meta.state.encryption.recipients = [ \"" + kRecipient + "\" ]; }");
    CHECK(session::project_codec(opts)->describe() == "age (1 recipient)");
    opts.state_file.reset();
    CHECK(session::resolve_state_location(opts) == dir / ".fedi/state.json");
}
