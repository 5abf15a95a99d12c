#pragma once
// State in PostgreSQL (libpq): one table of versions per deployment (every write a new
// row, so history is kept), written compare-and-swap on the version read, and locks that
// are session-level advisory locks, so that a runner that dies frees them with its
// connection. TLS, host, port and the password file are libpq's own business.
#include "statestore/backend.hpp"

#include <string>

namespace fedi::statestore {

// A "postgresql://…" or "postgres://…" state location taken apart.
struct PostgresLocation {
    // The URL without fedi's own parameters, as libpq takes it (sslmode, host, … stay).
    std::string conninfo;
    // The table of state versions; its locks are in "<table>_locks".
    std::string table = "fedi_state";
    // Which deployment's rows: several deployments may share one database and table.
    std::string deployment = "default";
};

// Takes `location` apart; a usage error when libpq would not take it, when it carries a
// password (that belongs in a password file or PGPASSWORD, never in a URL that process
// lists and shell histories show), or when the table is not a plain lower-case name.
PostgresLocation parse_postgres_location(const std::string& location);

// Connects to the database (creating the tables when missing).
std::unique_ptr<Backend> postgres_backend(const std::string& location,
                                          const BackendOptions& options);

} // namespace fedi::statestore
