#include "core/secret_memory.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <sys/prctl.h>
#include <sys/resource.h>

namespace fedi {

void make_process_undumpable() {
    struct rlimit none = {0, 0};
    if (::setrlimit(RLIMIT_CORE, &none) != 0)
        throw Error(std::string("cannot disable core dumps: ") + std::strerror(errno));
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        throw Error(std::string("cannot make fedi non-dumpable: ") + std::strerror(errno));
}

void wipe(std::string& secret) noexcept {
    // The whole capacity: an earlier, longer value may still sit past size().
    secret.resize(secret.capacity());
    ::explicit_bzero(secret.data(), secret.size());
    secret.clear();
}

} // namespace fedi
