#include "deploy/health.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "http/http.hpp"

#include <chrono>
#include <fmt/format.h>
#include <thread>

namespace fedi::deploy {

namespace {

std::string first_line(const std::string& s) {
    auto line = s.substr(0, s.find('\n'));
    return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

// One attempt: nothing when healthy, else what the check saw.
std::optional<std::string> attempt(const model::HealthCheck& check,
                                   std::unique_ptr<host::Host>& host,
                                   const std::function<std::unique_ptr<host::Host>()>& connect) {
    if (check.command) {
        if (!host)
            host = connect();
        auto command =
            fmt::format("timeout {} sh -c {}", check.timeout_seconds, shell_quote(*check.command));
        auto r = host->run(command);
        if (r.exit_status == 0)
            return std::nullopt;
        std::string said = first_line(r.err.empty() ? r.out : r.err);
        return fmt::format("exit status {}{}", r.exit_status, said.empty() ? "" : ": " + said);
    }
    http::ClientOptions options;
    options.total_timeout = std::chrono::seconds(check.timeout_seconds);
    options.connect_timeout = std::chrono::seconds(check.timeout_seconds);
    http::Client client(options);
    http::Request request;
    request.method = "GET";
    request.url = *check.http;
    auto response = client.send(request);
    if (response.status == check.expect_status)
        return std::nullopt;
    return fmt::format("HTTP {} (expected {})", response.status, check.expect_status);
}

} // namespace

std::optional<std::string>
run_health_checks(const model::Machine& machine,
                  const std::function<std::unique_ptr<host::Host>()>& connect,
                  const std::function<void(const std::string&)>& log) {
    std::unique_ptr<host::Host> host;
    for (const auto& check : machine.health_checks) {
        std::string last;
        bool passed = false;
        for (int i = 1; i <= check.attempts && !passed; ++i) {
            std::optional<std::string> failure;
            try {
                failure = attempt(check, host, connect);
            } catch (const Error& e) {
                failure = first_line(e.describe());
                host.reset(); // connect again for the next attempt
            }
            if (!failure) {
                passed = true;
                log(fmt::format("health check passed: {}", check.describe()));
                break;
            }
            last = *failure;
            log(fmt::format("health check {}/{} failed: {}: {}", i, check.attempts,
                            check.describe(), last));
            if (i < check.attempts)
                std::this_thread::sleep_for(std::chrono::seconds(check.interval_seconds));
        }
        if (!passed)
            return fmt::format("health check failed after {} attempt(s): {}: {}", check.attempts,
                               check.describe(), last);
    }
    return std::nullopt;
}

} // namespace fedi::deploy
