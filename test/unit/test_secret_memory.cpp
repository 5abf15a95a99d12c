// fedi keeps secrets out of core dumps and wipes the buffers it can.
#include "core/secret_memory.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_CASE("a process made undumpable has no core limit and is not dumpable") {
    // In a child, so the test runner itself stays as it was.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 0;
        if (::prctl(PR_GET_DUMPABLE) != 1)
            code |= 1; // the check below would prove nothing
        fedi::make_process_undumpable();
        struct rlimit lim {};
        ::getrlimit(RLIMIT_CORE, &lim);
        if (lim.rlim_cur != 0 || lim.rlim_max != 0)
            code |= 2;
        if (::prctl(PR_GET_DUMPABLE) != 0)
            code |= 4;
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("wipe overwrites the whole buffer, including a longer earlier value") {
    std::string secret(64, 'S');
    secret.resize(10); // capacity keeps the other 54 'S'
    const char* data = secret.data();
    std::size_t capacity = secret.capacity();
    fedi::wipe(secret);
    CHECK(secret.empty());
    REQUIRE(secret.data() == data); // same buffer, so reading it back is meaningful
    for (std::size_t i = 0; i < capacity; ++i)
        CHECK(data[i] == '\0');
}

TEST_CASE("WipeOnExit wipes when the scope is left by an exception") {
    std::string s(40, 'y');
    const char* data = s.data();
    try {
        fedi::WipeOnExit guard(s);
        throw std::runtime_error("connection lost");
    } catch (const std::runtime_error&) {
    }
    CHECK(s.empty());
    REQUIRE(s.data() == data);
    CHECK(data[0] == '\0');
    CHECK(data[39] == '\0');
}
