// A PostgreSQL state location: fedi's own parameters (table, deployment) taken out, the
// rest left to libpq as it is, and every way of putting a password in the URL refused.
#include "core/error.hpp"
#include "statestore/backend.hpp"
#include "statestore/postgres_backend.hpp"

#include <catch2/catch.hpp>

using namespace fedi;
using namespace fedi::statestore;

namespace {

std::string refusal(const std::string& location) {
    try {
        parse_postgres_location(location);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        return e.what();
    }
    FAIL("accepted " << location);
    return "";
}

} // namespace

TEST_CASE("postgres location: defaults for the table and the deployment") {
    auto loc = parse_postgres_location("postgresql://deploy@db.example.org:5433/fedi");
    CHECK(loc.conninfo == "postgresql://deploy@db.example.org:5433/fedi");
    CHECK(loc.table == "fedi_state");
    CHECK(loc.deployment == "default");
}

TEST_CASE("postgres location: table and deployment are fedi's, the rest is libpq's") {
    auto loc = parse_postgres_location("postgres://deploy@db:5432/ops?sslmode=verify-full&table="
                                       "team_state&sslrootcert=/etc/ca.pem&deployment=prod%2Feu");
    CHECK(loc.conninfo ==
          "postgres://deploy@db:5432/ops?sslmode=verify-full&sslrootcert=/etc/ca.pem");
    CHECK(loc.table == "team_state");
    CHECK(loc.deployment == "prod/eu");
}

TEST_CASE("postgres location: only fedi's parameters leave no empty query") {
    auto loc = parse_postgres_location("postgresql://u@h/db?deployment=web");
    CHECK(loc.conninfo == "postgresql://u@h/db");
    CHECK(loc.deployment == "web");
}

TEST_CASE("postgres location: a socket directory given as host= passes through") {
    auto loc = parse_postgres_location("postgresql:///fedi?host=/run/postgresql&port=5433");
    CHECK(loc.conninfo == "postgresql:///fedi?host=/run/postgresql&port=5433");
}

TEST_CASE("postgres location: a password in the user part is refused, and not repeated") {
    auto why = refusal("postgresql://deploy:hunter2@db/fedi");
    CHECK_THAT(why, Catch::Contains("password"));
    CHECK_THAT(why, Catch::Contains("PGPASSFILE"));
    CHECK_THAT(why, !Catch::Contains("hunter2"));
}

TEST_CASE("postgres location: a password in the query is refused, and not repeated") {
    for (const auto* url : {"postgresql://deploy@db/fedi?password=hunter2",
                            "postgresql://deploy@db/fedi?sslmode=require&sslpassword=hunter2"}) {
        auto why = refusal(url);
        CHECK_THAT(why, Catch::Contains("carries a password"));
        CHECK_THAT(why, !Catch::Contains("hunter2"));
    }
}

TEST_CASE("postgres location: a parameter libpq does not know is refused, named") {
    CHECK_THAT(refusal("postgresql://u@h/db?sslmod=require"), Catch::Contains("sslmod"));
}

TEST_CASE("postgres location: a table that is not a plain lower-case name is refused") {
    for (const auto* table : {"State", "a;drop", "9lives", "x%22y", ""})
        CHECK_THAT(refusal(std::string("postgresql://u@h/db?table=") + table),
                   Catch::Contains("table"));
    CHECK_THAT(refusal("postgresql://u@h/db?table=" + std::string(49, 'a')),
               Catch::Contains("at most 48"));
}

TEST_CASE("postgres location: an empty deployment or a broken escape is refused") {
    CHECK_THAT(refusal("postgresql://u@h/db?deployment="), Catch::Contains("deployment"));
    CHECK_THAT(refusal("postgresql://u@h/db?deployment=a%2"), Catch::Contains("%-escape"));
    CHECK_THAT(refusal("postgresql://u@h/db?deployment=a%zz"), Catch::Contains("%-escape"));
}

TEST_CASE("postgres location: open_backend refuses a password before connecting") {
    BackendOptions options;
    CHECK_THROWS_WITH(open_backend("postgres://u:secret@127.0.0.1:1/db", options),
                      Catch::Contains("carries a password") && !Catch::Contains("secret@"));
    CHECK(is_remote_location("postgres://u@h/db"));
}
