// PveClient's transport: TLS trust, requests and error replies, worker tasks, retries.
// The operations on nodes, storage and VMs are in proxmox_vm.cpp.
#include "provider/proxmox_api.hpp"

#include "http/http.hpp"
#include "provider/proxmox_tls.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace fedi::provider::pve {
namespace {

using Clock = std::chrono::steady_clock;

std::string seconds(Millis d) {
    if (d.count() % 1000 == 0)
        return fmt::format("{} s", d.count() / 1000);
    return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000);
}

// Each path segment percent-encoded (a UPID holds ':' and '!'), the slashes kept.
std::string encode_path(std::string_view path) {
    std::string out;
    std::size_t pos = 0;
    while (pos <= path.size()) {
        auto slash = path.find('/', pos);
        auto segment = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos
                                                                        : slash - pos);
        out += percent_encode(segment);
        if (slash == std::string_view::npos)
            break;
        out += '/';
        pos = slash + 1;
    }
    if (out.empty() || out.front() != '/')
        out.insert(out.begin(), '/');
    return out;
}

bool looks_like_tls_failure(std::string_view detail) {
    for (auto word : {"SSL", "TLS", "certificate", "pinned public key", "issuer"})
        if (detail.find(word) != std::string_view::npos)
            return true;
    return false;
}

// pve-common's dump_logfile (src/PVE/Tools.pm, dump_logfile_by_filehandle, 9.2.1) answers
// a log that is still empty with one placeholder line, [{"n": 1, "t": "no content"}] and
// total 1, because ExtJS stores dislike empty arrays: it is not a line of the task.
bool is_empty_log_placeholder(const nlohmann::json& doc) {
    auto data = doc.value("data", nlohmann::json());
    return json_int(doc.value("total", nlohmann::json()), -1) == 1 && data.is_array() &&
           data.size() == 1 && data[0].is_object() &&
           json_int(data[0].value("n", nlohmann::json()), 0) == 1 &&
           json_string(data[0].value("t", nlohmann::json())) == "no content";
}

// The text of each line of a task log reply ({"data": [{"n", "t"}], "total"}).
std::vector<std::string> log_lines(const nlohmann::json& doc) {
    std::vector<std::string> out;
    auto data = doc.value("data", nlohmann::json());
    if (is_empty_log_placeholder(doc) || !data.is_array())
        return out;
    for (const auto& line : data)
        out.push_back(json_string(line.value("t", nlohmann::json())));
    return out;
}

// "HTTP GET https://h/x: detail" (http::Client's message) -> "detail".
std::string transport_detail(const Error& e, const std::string& url) {
    const auto& m = e.message();
    auto marker = http::redact_url(url) + ": ";
    auto pos = m.find(marker);
    return pos == std::string::npos ? m : m.substr(pos + marker.size());
}

} // namespace

ApiError::ApiError(std::string message, Cause cause, long status, std::string remote)
    : Error(std::move(message)), cause_(cause), status_(status), remote_(std::move(remote)) {}

bool ApiError::vmid_taken() const {
    // qemu-server's clone writes the new VM's config with pve-common's file_set_contents
    // (src/PVE/API2/Qemu.pm clone_vm, qemu-server 9.2.6: "this fails if VM already exists
    // on other node"); pmxcfs refuses the rename, and src/PVE/File.pm (pve-common 9.2.1)
    // dies with "close (rename) atomic file '/etc/pve/nodes/N/qemu-server/ID.conf'
    // failed: File exists".
    auto has = [&](std::string_view part) { return remote_.find(part) != std::string::npos; };
    return already_exists() || (has("close (rename) atomic file '") && has("/qemu-server/") &&
                                has(".conf' failed: File exists"));
}

PveClient::PveClient(PveConfig config) : config_(std::move(config)) {
    base_ = api_base_url(config_.endpoint);
    if (config_.token_source.empty())
        config_.token_source = "the configured token";
    token_id_ = parse_token(config_.token, config_.token_source);
    // Accept the header form in the config too; send the bare token.
    if (config_.token.rfind("PVEAPIToken=", 0) == 0)
        config_.token.erase(0, 12);
    if (config_.node.empty())
        throw usage_error("Proxmox: no node given");
    if (config_.fingerprint)
        normalise_fingerprint(*config_.fingerprint); // shape check now, not at first call
    if (config_.retry.attempts < 1)
        config_.retry.attempts = 1;
}

PveClient::~PveClient() = default;

void PveClient::notice(const std::string& text) const {
    if (config_.on_notice)
        config_.on_notice(text);
}

// With a certificate fingerprint, first fetch the server's certificate over a connection
// that sends nothing secret, check it, and pin its public key for every real request: the
// token only ever goes to a server holding that key.
void PveClient::connect() {
    if (http_)
        return;
    http::ClientOptions options;
    options.connect_timeout = config_.timeouts.connect;
    options.total_timeout = config_.timeouts.request;
    options.tls.insecure = config_.insecure;
    if (config_.ca_file)
        options.tls.ca_file = *config_.ca_file;
    auto origin = base_.substr(0, base_.size() - std::string_view("/api2/json").size());
    if (config_.fingerprint && !config_.insecure) {
        auto wanted = normalise_fingerprint(*config_.fingerprint);
        if (!wanted) {
            options.tls.pinned_public_key = *config_.fingerprint;
        } else {
            http::ClientOptions probe_options = options;
            probe_options.tls = {};
            probe_options.tls.insecure = true;
            probe_options.capture_certificate = true;
            http::Client probe(probe_options);
            http::Response r;
            try {
                r = probe.send({"GET", origin + "/", {}, ""});
            } catch (const Error& e) {
                throw ApiError(fmt::format("cannot reach Proxmox at {}: {}", config_.endpoint,
                                           transport_detail(e, origin + "/")),
                               ApiError::Cause::Transport);
            }
            if (r.peer_certificate.empty())
                throw ApiError(fmt::format("cannot read the TLS certificate of Proxmox at {} "
                                           "to check its fingerprint",
                                           config_.endpoint),
                               ApiError::Cause::Tls);
            auto digests = certificate_digests(r.peer_certificate);
            if (digests.fingerprint != *wanted)
                throw ApiError(
                    fmt::format("the TLS certificate of Proxmox at {} has fingerprint {}, not "
                                "the configured fingerprint {}; if the node's certificate was "
                                "renewed, update fingerprint (Proxmox shows it under the node's "
                                "System > Certificates)",
                                config_.endpoint, digests.fingerprint, *wanted),
                    ApiError::Cause::Tls);
            options.tls.pinned_public_key = digests.key_sha256;
            pin_ = digests.key_sha256;
        }
    }
    http_ = std::make_unique<http::Client>(options);
}

nlohmann::json PveClient::request(const std::string& method, std::string_view path,
                                  const Form& form) {
    connect();
    http::Request req;
    req.method = method;
    req.url = base_ + encode_path(path);
    if (method == "GET" || method == "DELETE") {
        if (!form.empty())
            req.url += "?" + form_encode(form);
    } else {
        req.body = form_encode(form);
        req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    }
    req.headers.push_back({"Authorization", "PVEAPIToken=" + config_.token});
    auto what = fmt::format("Proxmox {} {}", method, path);

    http::Response r;
    try {
        r = http_->send(req);
    } catch (const Error& e) {
        auto detail = transport_detail(e, req.url);
        if (looks_like_tls_failure(detail))
            throw ApiError(
                fmt::format("{}: cannot verify the TLS certificate of {} ({}); set caFile to the "
                            "cluster's CA certificate (/etc/pve/pve-root-ca.pem on a node) or "
                            "fingerprint to the node certificate's SHA-256 fingerprint",
                            what, config_.endpoint, detail),
                ApiError::Cause::Tls);
        throw ApiError(fmt::format("{}: no answer from {}: {}", what, config_.endpoint, detail),
                       ApiError::Cause::Transport);
    }

    if (r.status >= 200 && r.status < 300) {
        auto doc = nlohmann::json::parse(r.body, nullptr, false);
        if (doc.is_discarded() || !doc.is_object())
            throw ApiError(
                fmt::format("{}: {} with a body that is not a JSON object", what, r.status),
                ApiError::Cause::Reply, r.status);
        return doc;
    }
    if (r.status == 401) {
        auto reason = r.reason.empty() ? std::string("401") : r.reason;
        throw ApiError(fmt::format("Proxmox at {} rejected the API token {} ({}); check {}",
                                   config_.endpoint, token_id_.id(), reason, config_.token_source),
                       ApiError::Cause::Auth, r.status, reason);
    }
    auto text = describe_reply(r.status, r.reason, r.body);
    // remote_message: the text without the status number.
    auto remote = text.substr(std::min(text.size(), std::to_string(r.status).size() + 1));
    auto message = what + ": " + text;
    if (r.status == 403)
        message += fmt::format(" (the API token {} lacks this privilege; with privilege "
                               "separation the token needs permissions of its own)",
                               token_id_.id());
    ApiError error(message, ApiError::Cause::Reply, r.status, remote);
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    if (!doc.is_discarded() && doc.is_object() && doc.contains("errors") &&
        doc["errors"].is_object())
        for (const auto& [param, msg] : doc["errors"].items())
            error.param_errors[param] = json_string(msg);
    throw error;
}

nlohmann::json PveClient::get(std::string_view path, const Form& query) {
    return request("GET", path, query).value("data", nlohmann::json());
}
nlohmann::json PveClient::post(std::string_view path, const Form& form) {
    return request("POST", path, form).value("data", nlohmann::json());
}
nlohmann::json PveClient::put(std::string_view path, const Form& form) {
    return request("PUT", path, form).value("data", nlohmann::json());
}
nlohmann::json PveClient::del(std::string_view path, const Form& query) {
    return request("DELETE", path, query).value("data", nlohmann::json());
}

std::vector<std::string> PveClient::task_log_tail(const std::string& upid, int lines) {
    auto node = parse_upid(upid).node;
    auto path = fmt::format("/nodes/{}/tasks/{}/log", node, upid);
    auto first = request("GET", path, {{"start", "0"}, {"limit", "1"}});
    std::int64_t total = json_int(first.value("total", nlohmann::json()), -1);
    std::int64_t start = 0;
    int limit = 1000;
    if (total >= 0) {
        start = std::max<std::int64_t>(0, total - lines);
        limit = lines;
    }
    auto out = log_lines(
        request("GET", path, {{"start", std::to_string(start)}, {"limit", std::to_string(limit)}}));
    if (out.size() > static_cast<std::size_t>(lines))
        out.erase(out.begin(), out.end() - lines);
    return out;
}

std::int64_t PveClient::forward_task_log(const std::string& log_path, std::int64_t seen,
                                         const TaskLog& on_log) {
    auto doc = request("GET", log_path, {{"start", std::to_string(seen)}, {"limit", "500"}});
    for (const auto& line : log_lines(doc)) {
        on_log(line);
        ++seen;
    }
    return seen;
}

void PveClient::fail_task(const std::string& what, const std::string& upid,
                          const std::string& exit) {
    std::vector<std::string> tail;
    try {
        tail = task_log_tail(upid);
    } catch (const Error&) {
        // The exit status alone still says what failed.
    }
    auto message = fmt::format("{} failed: {}", what, exit.empty() ? "unknown error" : exit);
    if (!tail.empty()) {
        message += "\ntask log (last lines):";
        for (const auto& line : tail)
            message += "\n  " + line;
    }
    ApiError error(message, ApiError::Cause::Task, 0, exit);
    error.log_tail = std::move(tail);
    throw error;
}

TaskResult PveClient::wait_task(const std::string& upid, std::optional<Millis> timeout,
                                const TaskLog& on_log) {
    auto u = parse_upid(upid);
    auto status_path = fmt::format("/nodes/{}/tasks/{}/status", u.node, upid);
    auto log_path = fmt::format("/nodes/{}/tasks/{}/log", u.node, upid);
    auto limit = timeout.value_or(config_.timeouts.task);
    auto deadline = Clock::now() + limit;
    auto interval = config_.timeouts.poll_min;
    std::int64_t log_seen = 0;
    int unanswered = 0;
    auto what = u.id.empty() ? fmt::format("Proxmox task {}", u.type)
                             : fmt::format("Proxmox task {} {}", u.type, u.id);
    for (;;) {
        nlohmann::json status;
        try {
            status = get(status_path);
            unanswered = 0;
        } catch (const ApiError& e) {
            // A lost poll says nothing about the task: ask again, a few times.
            if (e.cause() != ApiError::Cause::Transport || ++unanswered > 3)
                throw;
        }
        if (on_log && !status.is_null())
            log_seen = forward_task_log(log_path, log_seen, on_log);
        if (status.is_object() && status.value("status", "") == "stopped") {
            auto exit = json_string(status.value("exitstatus", nlohmann::json()));
            if (exit == "OK")
                return {upid, exit, 0};
            if (exit.rfind("WARNINGS: ", 0) == 0)
                return {upid, exit, static_cast<int>(json_int(exit.substr(10), 1))};
            fail_task(what, upid, exit);
        }
        if (Clock::now() >= deadline)
            throw ApiError(
                fmt::format("{} still running after {} (task {})", what, seconds(limit), upid),
                ApiError::Cause::Timeout);
        auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
        std::this_thread::sleep_for(std::clamp(interval, Millis(1), std::max(left, Millis(1))));
        interval = std::min(config_.timeouts.poll_max, interval * 3 / 2);
    }
}

void PveClient::sleep_backoff(int failed_attempts) const {
    auto wait = config_.retry.backoff;
    for (int i = 1; i < failed_attempts && wait < config_.retry.max_backoff; ++i)
        wait *= 2;
    std::this_thread::sleep_for(std::min(wait, config_.retry.max_backoff));
}

void PveClient::retry_locked(const std::string& what, const std::function<void()>& attempt) {
    for (int n = 1;; ++n) {
        try {
            attempt();
            return;
        } catch (ApiError& e) {
            if (!e.lock_timeout())
                throw;
            if (n >= config_.retry.attempts) {
                e.with_context(fmt::format("trying to {} ({} attempts, each hit a lock "
                                           "held by another operation)",
                                           what, n));
                throw;
            }
            notice(fmt::format("{}: {}; retrying (attempt {} of {})", what, e.remote_message(),
                               n + 1, config_.retry.attempts));
            sleep_backoff(n);
        }
    }
}

void PveClient::run_task(const std::string& what, const nlohmann::json& reply,
                         const TaskLog& on_log) {
    // Some calls finish at once and answer null instead of a task id.
    if (reply.is_null())
        return;
    if (!reply.is_string())
        throw ApiError(
            fmt::format("Proxmox answered {} with {} instead of a task id", what, reply.dump()),
            ApiError::Cause::Reply);
    wait_task(reply.get<std::string>(), std::nullopt, on_log);
}

} // namespace fedi::provider::pve
