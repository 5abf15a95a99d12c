#include "statestore/backend.hpp"
#include "statestore/s3_backend.hpp"

#include "core/random.hpp"
#include "state/state.hpp"
#include "statestore/postgres_backend.hpp"

#include <fmt/format.h>

#include <pwd.h>
#include <unistd.h>

namespace fedi::statestore {

namespace {

std::string host_name() {
    char host[256] = "";
    ::gethostname(host, sizeof host - 1);
    return host;
}

std::string user_name() {
    if (const auto* pw = ::getpwuid(::geteuid()))
        return pw->pw_name;
    return std::to_string(::geteuid());
}

bool starts_with(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

} // namespace

LockHolder this_process(const std::string& command, const std::string& scope) {
    LockHolder h;
    h.id = random_alphanumeric(12);
    h.scope = scope;
    h.host = host_name();
    h.user = user_name();
    h.pid = static_cast<long>(::getpid());
    h.command = command;
    h.since = state::now_utc();
    return h;
}

std::string describe_holder(const LockHolder& h) {
    return fmt::format("lock {} on {}: pid {} on {} (user {}), `{}`, since {}", h.id, h.scope,
                       h.pid, h.host, h.user, h.command, h.since);
}

LockHeld::LockHeld(const std::string& where, LockHolder holder)
    : Error(fmt::format("the state {} is locked by another fedi: {}; `fedi state unlock {}` "
                        "breaks it once you are sure that run is gone",
                        where, describe_holder(holder), holder.id)),
      holder_(std::move(holder)) {}

bool is_remote_location(const std::string& location) {
    return starts_with(location, "postgresql://") || starts_with(location, "postgres://") ||
           starts_with(location, "s3://");
}

std::unique_ptr<Backend> open_backend(const std::string& location, const BackendOptions& options) {
    if (starts_with(location, "postgresql://") || starts_with(location, "postgres://"))
        return postgres_backend(location, options);
    if (starts_with(location, "s3://"))
        return s3_backend(location, options);
    return file_backend(location);
}

} // namespace fedi::statestore
