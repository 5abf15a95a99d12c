#include "statestore/postgres_connection.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>

namespace fedi::statestore {

namespace {

std::string trimmed(const char* message) {
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

// libpq prints server notices ("relation … already exists, skipping") on stderr by
// default; fedi's output is its own.
void ignore_notice(void* /*arg*/, const char* /*message*/) {}

} // namespace

PgResult::~PgResult() {
    if (result_)
        PQclear(result_);
}

int PgResult::rows() const {
    return PQntuples(result_);
}

bool PgResult::null(int row, int column) const {
    return PQgetisnull(result_, row, column) != 0;
}

int PgResult::status() const {
    return result_ ? static_cast<int>(PQresultStatus(result_)) : -1;
}

std::string PgResult::error() const {
    return result_ ? trimmed(PQresultErrorMessage(result_)) : std::string();
}

std::string PgResult::sqlstate() const {
    const char* code = result_ ? PQresultErrorField(result_, PG_DIAG_SQLSTATE) : nullptr;
    return code ? code : "";
}

std::string PgResult::value(int row, int column) const {
    return {PQgetvalue(result_, row, column),
            static_cast<std::size_t>(PQgetlength(result_, row, column))};
}

PgConnection::PgConnection(const std::string& conninfo, std::string where)
    : where_(std::move(where)) {
    // The URL is expanded by libpq (expand_dbname); fedi names itself in
    // pg_stat_activity unless the URL says otherwise, and gives up on a server that does
    // not answer within 15 s unless the URL or PGCONNECT_TIMEOUT says otherwise (libpq's
    // own default waits forever; later keywords win, so the URL's come last).
    const char* timeout = std::getenv("PGCONNECT_TIMEOUT") ? nullptr : "15";
    const char* keywords[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
    const char* values[] = {timeout, conninfo.c_str(), "fedi", nullptr};
    conn_ = PQconnectdbParams(keywords, values, 1);
    if (!conn_)
        throw Error(fmt::format("state {}: out of memory connecting to PostgreSQL", where_));
    if (PQstatus(conn_) != CONNECTION_OK) {
        auto message = trimmed(PQerrorMessage(conn_));
        PQfinish(conn_);
        conn_ = nullptr;
        throw Error(fmt::format("state {}: cannot connect to PostgreSQL: {}", where_, message));
    }
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
}

PgConnection::~PgConnection() {
    if (conn_)
        PQfinish(conn_);
}

PgResult PgConnection::exec(const std::string& sql, const std::vector<PgParam>& params) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (const auto& p : params) {
        values.push_back(p.value.c_str());
        lengths.push_back(static_cast<int>(p.value.size()));
        formats.push_back(p.binary ? 1 : 0);
    }
    PgResult result(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                 values.data(), lengths.data(), formats.data(), 1));
    check(result);
    return result;
}

void PgConnection::check(const PgResult& result) const {
    auto status = result.status();
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return;
    auto message = result.error();
    if (message.empty())
        message = trimmed(PQerrorMessage(conn_));
    // A session ended under fedi: the server went away, or `fedi state unlock` broke this
    // run's locks by ending it. Nothing more can be written through it.
    if (PQstatus(conn_) != CONNECTION_OK)
        message += "; the connection to PostgreSQL is gone (the server stopped, or `fedi state "
                   "unlock` broke this run's locks), nothing more is written";
    throw PgError(fmt::format("state {}: PostgreSQL: {}", where_, message), result.sqlstate());
}

void PgConnection::rollback() noexcept {
    if (PQstatus(conn_) != CONNECTION_OK)
        return;
    PQclear(PQexec(conn_, "ROLLBACK"));
}

} // namespace fedi::statestore
