#include "statestore/s3_backend.hpp"

#include "core/io.hpp"
#include "core/random.hpp"
#include "core/text.hpp"
#include "s3/s3.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

namespace fedi::statestore {

namespace {

using storage::S3Client;

// The location without its query: what messages may show.
std::string shown(const S3Location& l) {
    return fmt::format("s3://{}/{}", l.bucket, l.key);
}

void set_parameter(S3Location& loc, const std::string& shown_location, std::string_view pair) {
    auto eq = pair.find('=');
    auto name = std::string(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    if (name == "endpoint")
        loc.endpoint = value;
    else if (name == "region")
        loc.region = value;
    else
        throw usage_error(fmt::format(
            "state {}: unknown parameter '{}' (known: endpoint, region); S3 keys are never part "
            "of the location, they come from the environment (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or FEDI_STATE_S3_ACCESS_KEY_FILE and "
            "FEDI_STATE_S3_SECRET_KEY_FILE)",
            shown_location, name));
}

void check_endpoint(const S3Location& loc) {
    auto bad = [&](const char* why) {
        return usage_error(fmt::format("state {}: the endpoint {}", shown(loc), why));
    };
    auto scheme = loc.endpoint.find("://");
    if (loc.endpoint.rfind("http://", 0) != 0 && loc.endpoint.rfind("https://", 0) != 0)
        throw bad("must start with http:// or https://");
    auto authority = loc.endpoint.substr(scheme + 3);
    authority = authority.substr(0, authority.find('/'));
    if (authority.find('@') != std::string::npos)
        throw bad("must not carry credentials: they come from the environment");
    if (authority.empty())
        throw bad("names no host");
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

std::string key_from_file(const char* variable) {
    auto path = env(variable);
    return trim(read_whole_file(path, variable));
}

} // namespace

S3Location parse_s3_location(const std::string& location) {
    if (location.rfind("s3://", 0) != 0)
        throw usage_error("an S3 state location starts with s3://");
    auto rest = location.substr(5);
    auto query_at = rest.find('?');
    auto path = rest.substr(0, query_at);
    auto slash = path.find('/');
    S3Location loc;
    loc.bucket = path.substr(0, slash);
    if (loc.bucket.find('@') != std::string::npos)
        throw usage_error("state s3://…: the location must not carry credentials (user:secret@); "
                          "they come from the environment");
    loc.key = slash == std::string::npos ? "" : percent_decode(path.substr(slash + 1));
    if (loc.key.empty() || loc.key.back() == '/')
        throw usage_error(fmt::format("state s3://{}/{}: name the state object, as in "
                                      "s3://BUCKET/KEY?endpoint=http://host:port",
                                      loc.bucket, loc.key));
    storage::check_bucket_name(loc.bucket);
    if (query_at != std::string::npos) {
        std::string_view query(rest);
        query.remove_prefix(query_at + 1);
        while (!query.empty()) {
            auto amp = query.find('&');
            set_parameter(loc, shown(loc), query.substr(0, amp));
            query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
        }
    }
    if (loc.region.empty())
        loc.region = "us-east-1";
    if (loc.endpoint.empty())
        loc.endpoint = fmt::format("https://s3.{}.amazonaws.com", loc.region);
    while (loc.endpoint.size() > 1 && loc.endpoint.back() == '/')
        loc.endpoint.pop_back();
    check_endpoint(loc);
    return loc;
}

S3Keys s3_keys_from_environment() {
    S3Keys keys;
    bool from_files = !env("FEDI_STATE_S3_ACCESS_KEY_FILE").empty() ||
                      !env("FEDI_STATE_S3_SECRET_KEY_FILE").empty();
    if (from_files) {
        if (env("FEDI_STATE_S3_ACCESS_KEY_FILE").empty() ||
            env("FEDI_STATE_S3_SECRET_KEY_FILE").empty())
            throw usage_error("S3 state: set both FEDI_STATE_S3_ACCESS_KEY_FILE and "
                              "FEDI_STATE_S3_SECRET_KEY_FILE, or neither");
        keys.access_key_id = key_from_file("FEDI_STATE_S3_ACCESS_KEY_FILE");
        keys.secret_access_key = key_from_file("FEDI_STATE_S3_SECRET_KEY_FILE");
    } else {
        keys.access_key_id = env("AWS_ACCESS_KEY_ID");
        keys.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
        keys.session_token = env("AWS_SESSION_TOKEN");
    }
    if (keys.access_key_id.empty() || keys.secret_access_key.empty())
        throw usage_error(
            "S3 state: no S3 keys: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "FEDI_STATE_S3_ACCESS_KEY_FILE and FEDI_STATE_S3_SECRET_KEY_FILE naming files "
            "that hold them");
    return keys;
}

namespace {

storage::S3Config client_config(const S3Location& loc, const S3Keys& keys) {
    storage::S3Config c;
    c.endpoint = loc.endpoint;
    c.region = loc.region;
    c.credentials = {keys.access_key_id, keys.secret_access_key, keys.session_token};
    return c;
}

nlohmann::json holder_json(const LockHolder& h) {
    return {{"id", h.id},   {"scope", h.scope},     {"host", h.host},  {"user", h.user},
            {"pid", h.pid}, {"command", h.command}, {"since", h.since}};
}

LockHolder parse_holder(const std::string& body, const std::string& object) {
    try {
        auto j = nlohmann::json::parse(body);
        auto text = [&](const char* name) { return j.at(name).get<std::string>(); };
        return {text("id"),      text("scope"), text("host"), text("user"), j.at("pid").get<long>(),
                text("command"), text("since")};
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("the lock object {} is not a fedi lock ({}); delete it by hand "
                                "if no fedi is running",
                                object, e.what()));
    }
}

// How the server compares If-Match, found by the probe.
enum class IfMatch { Quoted, Bare, Ignored };

std::string history_time() {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    return format_utc(std::chrono::system_clock::to_time_t(now), "%Y-%m-%dT%H:%M:%S") +
           fmt::format(".{:03}Z", ms.count());
}

// The locks this run took; deleted on destruction when still its own.
class S3Lock : public Lock {
  public:
    S3Lock(const storage::S3Config& config, std::string bucket)
        : client_(config), bucket_(std::move(bucket)) {}
    ~S3Lock() override { release(); }
    S3Lock(const S3Lock&) = delete;
    S3Lock& operator=(const S3Lock&) = delete;

    void add(std::string object, std::string id) { held_.emplace_back(object, id); }

    // Deletes each lock object still holding this run's id (one broken by hand and
    // taken by someone else stays theirs). Never throws: a lock left behind is reported
    // to the next run, which is all S3 allows.
    void release() noexcept {
        for (const auto& [object, id] : held_) {
            try {
                auto now = client_.get_object_with_etag(bucket_, object);
                if (now && parse_holder(now->body, object).id == id)
                    client_.delete_object(bucket_, object);
            } catch (const std::exception&) {
            }
        }
        held_.clear();
    }

  private:
    S3Client client_;
    std::string bucket_;
    std::vector<std::pair<std::string, std::string>> held_;
};

class S3Backend : public Backend {
  public:
    S3Backend(S3Location loc, const S3Keys& keys)
        : loc_(std::move(loc)), config_(client_config(loc_, keys)), client_(config_) {}

    std::string where() const override {
        return fmt::format("{} at {}", shown(loc_), loc_.endpoint);
    }

    std::optional<Stored> read() override {
        auto got = client_.get_object_with_etag(loc_.bucket, loc_.key);
        if (!got)
            return std::nullopt;
        return Stored{std::move(got->body), got->etag};
    }

    std::string write(const std::string& bytes,
                      const std::optional<std::string>& expected) override;
    std::unique_ptr<Lock> lock(const LockRequest& request) override;

    std::vector<LockHolder> locks() override {
        std::vector<LockHolder> out;
        for (auto& [object, holder] : lock_objects())
            out.push_back(std::move(holder));
        return out;
    }

    void unlock(const std::string& id) override {
        for (const auto& [object, holder] : lock_objects())
            if (holder.id == id) {
                client_.delete_object(loc_.bucket, object);
                return;
            }
        throw usage_error(fmt::format("the state {} has no lock {}", where(), id));
    }

    std::vector<HistoryEntry> history() override;
    std::optional<Stored> read_version(const std::string& version) override;
    bool remote() const override { return true; }

  private:
    std::string prefix(const char* kind) const { return loc_.key + "." + kind + "/"; }
    void probe();
    IfMatch probe_if_match(const std::string& object, const std::string& etag);
    bool take(S3Lock& held, const std::string& scope, const LockRequest& request);
    std::vector<std::pair<std::string, LockHolder>> lock_objects();
    std::string conflict(const std::optional<std::string>& expected) const;

    S3Location loc_;
    storage::S3Config config_;
    S3Client client_;
    IfMatch if_match_ = IfMatch::Quoted;
    bool probed_ = false;
};

// Buckets probed by this process, and what the probe found.
std::mutex probed_mutex;
std::map<std::string, IfMatch> probed_buckets;

void S3Backend::probe() {
    if (probed_)
        return;
    std::lock_guard<std::mutex> guard(probed_mutex);
    auto id = loc_.endpoint + " " + loc_.bucket;
    if (auto it = probed_buckets.find(id); it != probed_buckets.end()) {
        if_match_ = it->second;
        probed_ = true;
        return;
    }
    auto object = prefix("probe") + random_alphanumeric(16);
    auto cleanup = [&] {
        try {
            client_.delete_object(loc_.bucket, object);
        } catch (const std::exception&) {
        }
    };
    try {
        auto first = client_.put_object_if(loc_.bucket, object, "probe 1", {std::nullopt, true});
        if (!first)
            throw Error(fmt::format("S3 state {}: the server refused to create the new object {} "
                                    "with If-None-Match: * (HTTP 412)",
                                    where(), object));
        if (client_.put_object_if(loc_.bucket, object, "probe 2", {std::nullopt, true}))
            throw Error(fmt::format(
                "S3 state {}: the server ignores conditional writes: a second PutObject of {} "
                "with If-None-Match: * was accepted instead of refused with HTTP 412. Its lock "
                "objects would not keep two fedi runs apart, so fedi does not keep state there; "
                "use a server that honours If-None-Match, such as Ceph RGW or AWS S3",
                where(), object));
        if_match_ = probe_if_match(object, *first);
    } catch (...) {
        cleanup();
        throw;
    }
    cleanup();
    probed_buckets[id] = if_match_;
    probed_ = true;
}

// Which form of If-Match the server matches: RFC 7232's quoted ETag, or the bare one
// (Ceph RGW 16 compares the header with the bare ETag).
IfMatch S3Backend::probe_if_match(const std::string& object, const std::string& etag) {
    auto put = [&](const std::string& if_match) {
        return client_.put_object_if(loc_.bucket, object, "probe", {if_match, false});
    };
    const std::string wrong(32, '0');
    if (put("\"" + wrong + "\""))
        return IfMatch::Ignored;
    if (put("\"" + etag + "\""))
        return IfMatch::Quoted;
    // A server that never matches the quoted form must still refuse a wrong bare one.
    if (put(wrong))
        return IfMatch::Ignored;
    if (put(etag))
        return IfMatch::Bare;
    throw Error(fmt::format("S3 state {}: the server refuses every If-Match, even with the "
                            "object's own ETag {}, so no state could be written twice",
                            where(), etag));
}

std::string S3Backend::conflict(const std::optional<std::string>& expected) const {
    return fmt::format("the state {} changed since fedi read it (version {}): another run wrote "
                       "it, or a lock was broken by hand; not overwritten",
                       where(), expected ? *expected : "none, no state yet");
}

std::string S3Backend::write(const std::string& bytes, const std::optional<std::string>& expected) {
    probe();
    S3Client::PutCondition condition;
    if (!expected) {
        condition.if_none_match_any = true;
    } else if (if_match_ == IfMatch::Ignored) {
        auto now = client_.head_object(loc_.bucket, loc_.key);
        if (!now || now->etag != *expected)
            throw VersionConflict(conflict(expected));
    } else {
        condition.if_match = if_match_ == IfMatch::Quoted ? "\"" + *expected + "\"" : *expected;
    }
    auto etag = client_.put_object_if(loc_.bucket, loc_.key, bytes, condition);
    if (!etag)
        throw VersionConflict(conflict(expected));
    if (etag->empty()) // a server that does not answer with the ETag
        etag = client_.head_object(loc_.bucket, loc_.key).value_or(storage::S3ObjectHead{}).etag;
    // The state is written: a history copy that fails must not make the caller believe
    // otherwise (it would apply its change again), so the copy is best effort.
    try {
        client_.put_object(loc_.bucket, prefix("history") + history_time() + "-" + *etag, bytes);
    } catch (const Error&) {
    }
    return *etag;
}

std::vector<HistoryEntry> S3Backend::history() {
    std::vector<HistoryEntry> out;
    auto start = prefix("history");
    for (const auto& o : client_.list_objects(loc_.bucket, start)) {
        auto name = o.key.substr(start.size());
        auto dash = name.find("Z-");
        if (dash == std::string::npos)
            continue; // not a copy fedi wrote
        out.push_back({name.substr(dash + 2), name.substr(0, dash + 1), ""});
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.written_at > b.written_at; });
    return out;
}

std::optional<Stored> S3Backend::read_version(const std::string& version) {
    for (const auto& entry : history())
        if (entry.version == version) {
            auto object = prefix("history") + entry.written_at + "-" + version;
            auto got = client_.get_object_with_etag(loc_.bucket, object);
            if (got)
                return Stored{std::move(got->body), version};
        }
    auto now = read();
    if (now && now->version == version)
        return now;
    return std::nullopt;
}

std::vector<std::pair<std::string, LockHolder>> S3Backend::lock_objects() {
    std::vector<std::pair<std::string, LockHolder>> out;
    for (const auto& o : client_.list_objects(loc_.bucket, prefix("lock"))) {
        auto got = client_.get_object_with_etag(loc_.bucket, o.key);
        if (got) // else released since the listing
            out.emplace_back(o.key, parse_holder(got->body, o.key));
    }
    return out;
}

// Tries once to create the lock object of `scope`: true when taken, false when it
// vanished between a refused create and the read of its holder (try again at once).
bool S3Backend::take(S3Lock& held, const std::string& scope, const LockRequest& request) {
    auto object = prefix("lock") + scope;
    auto me = this_process(request.command, scope);
    if (client_.put_object_if(loc_.bucket, object, holder_json(me).dump(2) + "\n",
                              {std::nullopt, true})) {
        held.add(object, me.id);
        return true;
    }
    auto holder = client_.get_object_with_etag(loc_.bucket, object);
    if (!holder)
        return false;
    throw LockHeld(where(), parse_holder(holder->body, object));
}

std::unique_ptr<Lock> S3Backend::lock(const LockRequest& request) {
    probe();
    auto held = std::make_unique<S3Lock>(config_, loc_.bucket);
    // One order for every run, so that two runs waiting for each other's scopes cannot
    // each hold a part.
    auto scopes = request.scopes;
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    auto deadline = std::chrono::steady_clock::now() + request.timeout;
    for (const auto& scope : scopes) {
        for (;;) {
            try {
                if (take(*held, scope, request))
                    break;
            } catch (LockHeld& e) {
                if (std::chrono::steady_clock::now() >= deadline) {
                    e.with_context(fmt::format(
                        "taking the lock object {}{} (S3 cannot tell whether a lock's holder "
                        "is still running: a run that was killed leaves its lock behind)",
                        prefix("lock"), scope));
                    throw; // `held` frees the scopes already taken
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
            }
        }
    }
    return held;
}

} // namespace

std::unique_ptr<Backend> s3_backend(const std::string& location, const BackendOptions& options) {
    (void)options; // the lock requests name the command; nothing else is needed yet
    return std::make_unique<S3Backend>(parse_s3_location(location), s3_keys_from_environment());
}

} // namespace fedi::statestore
