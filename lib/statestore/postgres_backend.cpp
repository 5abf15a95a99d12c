// State in PostgreSQL. Tables (created when missing, under a transaction-level advisory
// lock so that two first runs do not race):
//   <table>        (deployment, version, data bytea, written_at, written_by): one row per
//                  write; the state is the row with the highest version
//   <table>_locks  (deployment, scope, id, host, user, pid, command, since, lock_key,
//                  backend_pid): who holds each lock, for messages and `fedi state locks`
// A lock is pg_try_advisory_lock on a key derived from the deployment and the scope, held
// by this connection's session: PostgreSQL frees it when the session ends, however the
// process holding it ends. A holder row counts only while its backend still holds that
// advisory lock (pg_locks); any other row is stale, ignored and removed.
#include "statestore/postgres_backend.hpp"

#include "s3/hash.hpp"
#include "state/state.hpp"
#include "statestore/postgres_connection.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

namespace fedi::statestore {

namespace {

using Clock = std::chrono::steady_clock;

// A 64-bit advisory lock key for `what` (a scope, or fedi's own "write"/"schema"), apart
// for every table and deployment; the first 8 bytes of a SHA-256.
std::int64_t lock_key(const PostgresLocation& loc, const std::string& kind,
                      const std::string& what) {
    auto digest = storage::sha256("fedi state lock\n" + kind + '\0' + loc.table + '\0' +
                                  loc.deployment + '\0' + what);
    std::uint64_t key = 0;
    for (int i = 0; i < 8; ++i)
        key = (key << 8) | static_cast<unsigned char>(digest[i]);
    return static_cast<std::int64_t>(key);
}

PgParam text(std::string value) {
    return {std::move(value), false};
}

// True for a holder row (alias k) whose backend still holds its advisory lock in this
// database; the advisory key's high and low halves are pg_locks' classid and objid.
constexpr const char* live_holder = R"(EXISTS (SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.pid = k.backend_pid
      AND l.classid::bigint = ((k.lock_key >> 32) & 4294967295)
      AND l.objid::bigint = (k.lock_key & 4294967295)))";

// The session shared by the backend and the locks it hands out.
struct Session {
    Session(const std::string& conninfo, const std::string& where) : conn(conninfo, where) {}
    PgConnection conn;
    std::mutex mutex;
    std::set<std::int64_t> held; // advisory keys this session holds for a Lock
};

struct Tables {
    explicit Tables(const std::string& table)
        : state("\"" + table + "\""), locks("\"" + table + "_locks\"") {}
    std::string state; // quoted identifiers (the names are checked plain)
    std::string locks;
};

class PostgresLock : public Lock {
  public:
    PostgresLock(std::shared_ptr<Session> session, Tables tables, std::string deployment,
                 std::string id, std::vector<std::int64_t> keys)
        : session_(std::move(session)), tables_(std::move(tables)),
          deployment_(std::move(deployment)), id_(std::move(id)), keys_(std::move(keys)) {}

    // Best effort: when the session is gone, PostgreSQL has freed the locks already.
    ~PostgresLock() override {
        try {
            session_->conn.exec(
                fmt::format("DELETE FROM {} WHERE deployment = $1 AND id = $2 AND backend_pid = "
                            "pg_backend_pid()",
                            tables_.locks),
                {text(deployment_), text(id_)});
        } catch (const std::exception&) {
        }
        release_keys(*session_, keys_);
    }

    static void release_keys(Session& session, const std::vector<std::int64_t>& keys) {
        for (auto key : keys) {
            try {
                session.conn.exec("SELECT pg_advisory_unlock($1::bigint)::text",
                                  {text(std::to_string(key))});
            } catch (const std::exception&) {
            }
            std::lock_guard<std::mutex> lock(session.mutex);
            session.held.erase(key);
        }
    }

  private:
    std::shared_ptr<Session> session_;
    Tables tables_;
    std::string deployment_;
    std::string id_;
    std::vector<std::int64_t> keys_;
};

std::string conflict_message(const std::string& where, const std::optional<std::string>& current,
                             const std::optional<std::string>& expected) {
    auto version = [](const std::optional<std::string>& v) {
        return v ? "version " + *v : std::string("no state");
    };
    return fmt::format("the state {} changed since fedi read it: it holds {}, fedi read {} "
                       "(another run wrote in between, or a lock was broken); not overwritten",
                       where, version(current), version(expected));
}

LockHolder holder_from_row(const PgResult& r, int row) {
    LockHolder h;
    h.id = r.value(row, 0);
    h.scope = r.value(row, 1);
    h.host = r.value(row, 2);
    h.user = r.value(row, 3);
    h.pid = std::stol(r.value(row, 4));
    h.command = r.value(row, 5);
    h.since = r.value(row, 6);
    return h;
}

constexpr const char* holder_columns =
    "k.id, k.scope, k.host, k.user_name, k.pid::text, k.command, k.since";

class PostgresBackend : public Backend {
  public:
    PostgresBackend(const std::string& location, const BackendOptions& options)
        : where_(location), loc_(parse_postgres_location(location)), tables_(loc_.table),
          session_(std::make_shared<Session>(loc_.conninfo, where_)) {
        auto me = this_process(options.command_line, "");
        written_by_ = fmt::format("{}@{}: {}", me.user, me.host, options.command_line);
        create_tables();
    }

    std::string where() const override { return where_; }
    bool remote() const override { return true; }

    std::optional<Stored> read() override {
        return stored(fmt::format("SELECT data, version::text FROM {} WHERE deployment = $1 "
                                  "ORDER BY version DESC LIMIT 1",
                                  tables_.state),
                      {deployment()});
    }

    std::optional<Stored> read_version(const std::string& version) override {
        if (version.empty() || version.size() > 18 ||
            !std::all_of(version.begin(), version.end(), ::isdigit))
            return std::nullopt;
        return stored(fmt::format("SELECT data, version::text FROM {} WHERE deployment = $1 AND "
                                  "version = $2::bigint",
                                  tables_.state),
                      {deployment(), text(version)});
    }

    std::string write(const std::string& bytes,
                      const std::optional<std::string>& expected) override {
        try {
            return conn().transaction([&] { return write_in_transaction(bytes, expected); });
        } catch (const PgError& e) {
            // Two writers of the same next version: the later one lost (kept as a guard;
            // the transaction's advisory lock normally orders them first).
            if (e.sqlstate() == "23505")
                throw VersionConflict(conflict_message(where_, read_latest_version(), expected));
            throw;
        }
    }

    std::unique_ptr<Lock> lock(const LockRequest& request) override;
    std::vector<LockHolder> locks() override;
    void unlock(const std::string& id) override;

    std::vector<HistoryEntry> history() override {
        auto r =
            conn().exec(fmt::format("SELECT version::text, to_char(written_at AT TIME ZONE 'UTC', "
                                    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), written_by FROM {} "
                                    "WHERE deployment = $1 ORDER BY version DESC",
                                    tables_.state),
                        {deployment()});
        std::vector<HistoryEntry> out;
        for (int i = 0; i < r.rows(); ++i)
            out.push_back({r.value(i, 0), r.value(i, 1), r.value(i, 2)});
        return out;
    }

  private:
    PgConnection& conn() { return session_->conn; }
    PgParam deployment() const { return text(loc_.deployment); }

    void create_tables();
    std::optional<LockHolder> try_take(const std::vector<std::string>& scopes,
                                       std::vector<std::int64_t>& taken);
    LockHolder holder_of(const std::string& scope, std::int64_t key);
    void record(const std::vector<std::string>& scopes, const LockHolder& me);
    void remove_stale_holders();
    void wait_until_gone(const std::string& backend_pid);

    std::optional<Stored> stored(const std::string& sql, const std::vector<PgParam>& params) {
        auto r = conn().exec(sql, params);
        if (r.rows() == 0)
            return std::nullopt;
        return Stored{r.value(0, 0), r.value(0, 1)};
    }

    std::optional<std::string> read_latest_version() {
        auto r = conn().exec(
            fmt::format("SELECT max(version)::text FROM {} WHERE deployment = $1", tables_.state),
            {deployment()});
        if (r.null(0, 0))
            return std::nullopt;
        return r.value(0, 0);
    }

    std::string write_in_transaction(const std::string& bytes,
                                     const std::optional<std::string>& expected) {
        // Writers of this deployment one at a time, until commit.
        conn().exec("SELECT pg_advisory_xact_lock($1::bigint)::text",
                    {text(std::to_string(lock_key(loc_, "write", "")))});
        auto current = read_latest_version();
        if (current != expected)
            throw VersionConflict(conflict_message(where_, current, expected));
        auto next = std::to_string(current ? std::stoll(*current) + 1 : 1);
        conn().exec(fmt::format("INSERT INTO {} (deployment, version, data, written_by) "
                                "VALUES ($1, $2::bigint, $3, $4)",
                                tables_.state),
                    {deployment(), text(next), PgParam{bytes, true}, text(written_by_)});
        return next;
    }

    std::string where_;
    PostgresLocation loc_;
    Tables tables_;
    std::shared_ptr<Session> session_;
    std::string written_by_;
};

void PostgresBackend::create_tables() {
    conn().transaction([&] {
        // Two first runs at once would both create (and one fail on the catalog).
        conn().exec("SELECT pg_advisory_xact_lock($1::bigint)::text",
                    {text(std::to_string(lock_key(loc_, "schema", "")))});
        auto r = conn().exec("SELECT (to_regclass($1::text) IS NULL)::text, "
                             "(to_regclass($2::text) IS NULL)::text",
                             {text(tables_.state), text(tables_.locks)});
        // Only when missing: creating needs a privilege that using does not.
        if (r.value(0, 0) == "true")
            conn().exec(fmt::format("CREATE TABLE {} (deployment text NOT NULL, version bigint "
                                    "NOT NULL, data bytea NOT NULL, written_at timestamptz NOT "
                                    "NULL DEFAULT now(), written_by text NOT NULL, "
                                    "PRIMARY KEY (deployment, version))",
                                    tables_.state));
        if (r.value(0, 1) == "true")
            conn().exec(fmt::format(
                "CREATE TABLE {} (deployment text NOT NULL, scope text NOT NULL, id text NOT "
                "NULL, host text NOT NULL, user_name text NOT NULL, pid bigint NOT NULL, command "
                "text NOT NULL, since text NOT NULL, lock_key bigint NOT NULL, backend_pid "
                "integer NOT NULL, PRIMARY KEY (deployment, scope))",
                tables_.locks));
        return 0;
    });
}

std::unique_ptr<Lock> PostgresBackend::lock(const LockRequest& request) {
    std::vector<std::string> scopes = request.scopes;
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    auto me = this_process(request.command, "");
    auto deadline = Clock::now() + request.timeout;
    for (;;) {
        std::vector<std::int64_t> taken;
        auto blocker = try_take(scopes, taken);
        if (!blocker) {
            try {
                record(scopes, me);
            } catch (...) {
                PostgresLock::release_keys(*session_, taken);
                throw;
            }
            return std::make_unique<PostgresLock>(session_, tables_, loc_.deployment, me.id,
                                                  std::move(taken));
        }
        auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero())
            throw LockHeld(where_, *blocker);
        std::this_thread::sleep_for(
            std::min<Clock::duration>(left, std::chrono::milliseconds(500)));
    }
}

// Every scope or none: on the first one held elsewhere, those taken are given back and
// that one's holder returned.
std::optional<LockHolder> PostgresBackend::try_take(const std::vector<std::string>& scopes,
                                                    std::vector<std::int64_t>& taken) {
    for (const auto& scope : scopes) {
        auto key = lock_key(loc_, "scope", scope);
        bool mine = false;
        {
            std::lock_guard<std::mutex> lock(session_->mutex);
            mine = session_->held.count(key) != 0;
        }
        // Advisory locks nest within a session; a scope this run holds already is held
        // for this request as it would be for another process.
        if (mine || conn().exec("SELECT pg_try_advisory_lock($1::bigint)::text",
                                {text(std::to_string(key))})
                            .value(0, 0) != "true") {
            PostgresLock::release_keys(*session_, taken);
            taken.clear();
            return holder_of(scope, key);
        }
        std::lock_guard<std::mutex> lock(session_->mutex);
        session_->held.insert(key);
        taken.push_back(key);
    }
    return std::nullopt;
}

// Who holds `key`: its holder row, or what PostgreSQL knows of the session holding it
// (a holder that has not recorded itself yet, or not fedi).
LockHolder PostgresBackend::holder_of(const std::string& scope, std::int64_t key) {
    auto r = conn().exec(fmt::format(R"(SELECT coalesce(k.id, ''), $2::text, coalesce(k.host,
              'a PostgreSQL session from ' || coalesce(host(a.client_addr), 'a local socket')),
              coalesce(k.user_name, a.usename::text, ''), coalesce(k.pid, 0)::text,
              coalesce(k.command, a.application_name, ''), coalesce(k.since, ''), l.pid::text
            FROM pg_locks l
            LEFT JOIN {} k ON k.backend_pid = l.pid AND k.lock_key = $1::bigint
            LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid::bigint = (($1::bigint >> 32) & 4294967295)
              AND l.objid::bigint = ($1::bigint & 4294967295))",
                                     tables_.locks),
                         {text(std::to_string(key)), text(scope)});
    if (r.rows() == 0) {
        LockHolder gone;
        gone.scope = scope;
        gone.host = "a session that ended just now";
        return gone;
    }
    auto h = holder_from_row(r, 0);
    if (h.id.empty())
        h.pid = std::stol(r.value(0, 7)); // the backend's pid: all PostgreSQL tells
    return h;
}

// The holder rows of a lock just taken; any row left for these scopes is stale (this
// session holds their advisory locks now).
void PostgresBackend::record(const std::vector<std::string>& scopes, const LockHolder& me) {
    conn().transaction([&] {
        for (const auto& scope : scopes) {
            conn().exec(
                fmt::format("DELETE FROM {} WHERE deployment = $1 AND scope = $2", tables_.locks),
                {deployment(), text(scope)});
            conn().exec(fmt::format("INSERT INTO {} (deployment, scope, id, host, user_name, "
                                    "pid, command, since, lock_key, backend_pid) VALUES ($1, "
                                    "$2, $3, $4, $5, $6::bigint, $7, $8, $9::bigint, "
                                    "pg_backend_pid())",
                                    tables_.locks),
                        {deployment(), text(scope), text(me.id), text(me.host), text(me.user),
                         text(std::to_string(me.pid)), text(me.command), text(me.since),
                         text(std::to_string(lock_key(loc_, "scope", scope)))});
        }
        return 0;
    });
}

void PostgresBackend::remove_stale_holders() {
    conn().exec(fmt::format("DELETE FROM {} k WHERE NOT {}", tables_.locks, live_holder));
}

std::vector<LockHolder> PostgresBackend::locks() {
    remove_stale_holders();
    auto r = conn().exec(fmt::format("SELECT {} FROM {} k WHERE deployment = $1 AND {} ORDER "
                                     "BY k.since, k.scope",
                                     holder_columns, tables_.locks, live_holder),
                         {deployment()});
    std::vector<LockHolder> out;
    for (int i = 0; i < r.rows(); ++i)
        out.push_back(holder_from_row(r, i));
    return out;
}

// An advisory lock is released only by the session holding it (pg_advisory_unlock from
// any other session does nothing), so breaking a lock means ending that session with
// pg_terminate_backend: PostgreSQL then frees every lock it held. Should the holder still
// run after all, its connection is gone and its next write fails instead of landing.
void PostgresBackend::unlock(const std::string& id) {
    remove_stale_holders();
    auto r = conn().exec(
        fmt::format("SELECT backend_pid::text, (backend_pid = pg_backend_pid())::text FROM {} "
                    "WHERE deployment = $1 AND id = $2 LIMIT 1",
                    tables_.locks),
        {deployment(), text(id)});
    if (r.rows() == 0)
        throw Error(fmt::format("the state {} has no lock {} (it was freed already, or the id is "
                                "mistyped); `fedi state locks` lists the locks held",
                                where_, id));
    auto backend_pid = r.value(0, 0);
    if (r.value(0, 1) == "true")
        throw Error(fmt::format("the state {}: lock {} is held by this very run", where_, id));
    bool ended = false;
    try {
        ended = conn()
                    .exec("SELECT pg_terminate_backend($1::integer)::text", {text(backend_pid)})
                    .value(0, 0) == "true";
    } catch (const PgError& e) {
        throw Error(fmt::format("{}; ending another role's session takes a superuser, that role, "
                                "or a member of pg_signal_backend",
                                e.what()));
    }
    if (ended)
        wait_until_gone(backend_pid);
    remove_stale_holders();
}

// pg_terminate_backend only signals; the advisory locks go when the backend has exited.
void PostgresBackend::wait_until_gone(const std::string& backend_pid) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
        auto r = conn().exec("SELECT count(*)::text FROM pg_stat_activity WHERE pid = $1::integer",
                             {text(backend_pid)});
        if (r.value(0, 0) == "0")
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw Error(fmt::format("the state {}: the PostgreSQL session {} holding the lock was told "
                            "to end but is still there after 10 s",
                            where_, backend_pid));
}

} // namespace

std::unique_ptr<Backend> postgres_backend(const std::string& location,
                                          const BackendOptions& options) {
    return std::make_unique<PostgresBackend>(location, options);
}

} // namespace fedi::statestore
