#pragma once
// One libpq connection (internal to lib/statestore): parameterised statements whose
// results come back in binary, so that bytea columns arrive as the bytes themselves and
// every other column is cast to text by the statement.
#include "core/error.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace fedi::statestore {

// A statement parameter: text (cast in the statement, `$1::bigint`) or raw bytes (bytea).
struct PgParam {
    std::string value;
    bool binary = false;
};

// A failed statement; `sqlstate` is PostgreSQL's error code ("23505": unique violation).
class PgError : public Error {
  public:
    PgError(const std::string& message, std::string sqlstate)
        : Error(message), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const { return sqlstate_; }

  private:
    std::string sqlstate_;
};

class PgResult {
  public:
    explicit PgResult(pg_result* result) : result_(result) {}
    PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
    PgResult(const PgResult&) = delete;
    PgResult& operator=(const PgResult&) = delete;
    PgResult& operator=(PgResult&&) = delete;
    ~PgResult();

    // PQresultStatus, or -1 when libpq returned no result at all (out of memory).
    int status() const;
    std::string error() const;
    std::string sqlstate() const;
    int rows() const;
    bool null(int row, int column) const;
    // The column's bytes (text for columns the statement cast to text).
    std::string value(int row, int column) const;

  private:
    pg_result* result_;
};

class PgConnection {
  public:
    // `where` names the state in messages.
    PgConnection(const std::string& conninfo, std::string where);
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;
    ~PgConnection();

    PgResult exec(const std::string& sql, const std::vector<PgParam>& params = {});
    // Runs `fn` between BEGIN and COMMIT; ROLLBACK when it throws.
    template <class Fn> auto transaction(Fn&& fn) {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        exec("BEGIN");
        try {
            auto result = fn();
            exec("COMMIT");
            return result;
        } catch (...) {
            rollback();
            throw;
        }
    }

  private:
    void rollback() noexcept;
    // Throws PgError unless `result` is a success.
    void check(const PgResult& result) const;

    std::recursive_mutex mutex_;
    pg_conn* conn_ = nullptr;
    std::string where_;
};

} // namespace fedi::statestore
