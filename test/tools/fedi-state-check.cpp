// A test-only command line over statestore::open_backend, so that integration tests can
// drive a state backend (PostgreSQL, …) directly: write with a stale version, hold a lock
// from a process they can kill, list and break locks. Secrets (a database password) come
// from the environment or files as for fedi itself.
//
//   fedi-state-check LOCATION OPERATION ARGS...
//     where | read | read-version V | history | locks | unlock ID
//     write EXPECTED      the bytes on stdin; EXPECTED a version, or "none"; prints the new one
//     lock [--timeout S] [--command C] SCOPE...
//                         takes the locks, prints "locked" and holds them until stdin ends
//
// read and read-version print {"version", "bytes"} (null when there is none; bytes that are
// not UTF-8, as in an age file, replaced by U+FFFD); history and
// locks print JSON lists. Exit codes: 0 done, 1 failed (message on stderr), 2 usage error,
// 3 version conflict, 4 lock held (the holder as JSON on stdout).
#include "core/error.hpp"
#include "statestore/backend.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <iterator>

using namespace fedi;
using namespace fedi::statestore;
using nlohmann::json;

namespace {

json holder_json(const LockHolder& h) {
    return {{"id", h.id},   {"scope", h.scope},     {"host", h.host},  {"user", h.user},
            {"pid", h.pid}, {"command", h.command}, {"since", h.since}};
}

json stored_json(const std::optional<Stored>& s) {
    if (!s)
        return {{"version", nullptr}, {"bytes", nullptr}};
    return {{"version", s->version}, {"bytes", s->bytes}};
}

int hold(Backend& backend, std::vector<std::string> args) {
    LockRequest request;
    request.scopes.clear();
    request.command = "fedi-state-check lock";
    for (std::size_t i = 0; i < args.size(); ++i) {
        if ((args[i] == "--timeout" || args[i] == "--command") && i + 1 < args.size()) {
            if (args[i] == "--timeout")
                request.timeout = std::chrono::seconds(std::stoi(args[i + 1]));
            else
                request.command = args[i + 1];
            ++i;
        } else {
            request.scopes.push_back(args[i]);
        }
    }
    auto held = backend.lock(request);
    std::cout << "locked" << std::endl;
    std::string rest((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return 0;
}

int run(const std::vector<std::string>& argv) {
    if (argv.size() < 2)
        throw usage_error("fedi-state-check LOCATION OPERATION ARGS...");
    BackendOptions options;
    options.command_line = "fedi-state-check " + argv[1];
    auto backend = open_backend(argv[0], options);
    const auto& op = argv[1];
    std::vector<std::string> args(argv.begin() + 2, argv.end());
    auto arg = [&](std::size_t i) {
        if (i >= args.size())
            throw usage_error(op + ": an argument is missing");
        return args[i];
    };
    if (op == "where")
        std::cout << backend->where() << "\n";
    else if (op == "read")
        std::cout
            << stored_json(backend->read()).dump(-1, ' ', false, json::error_handler_t::replace)
            << "\n";
    else if (op == "read-version")
        std::cout << stored_json(backend->read_version(arg(0)))
                         .dump(-1, ' ', false, json::error_handler_t::replace)
                  << "\n";
    else if (op == "write") {
        std::string bytes((std::istreambuf_iterator<char>(std::cin)),
                          std::istreambuf_iterator<char>());
        std::optional<std::string> expected;
        if (arg(0) != "none")
            expected = arg(0);
        std::cout << backend->write(bytes, expected) << "\n";
    } else if (op == "history") {
        json out = json::array();
        for (const auto& h : backend->history())
            out.push_back(
                {{"version", h.version}, {"writtenAt", h.written_at}, {"writtenBy", h.written_by}});
        std::cout << out.dump() << "\n";
    } else if (op == "locks") {
        json out = json::array();
        for (const auto& h : backend->locks())
            out.push_back(holder_json(h));
        std::cout << out.dump() << "\n";
    } else if (op == "unlock")
        backend->unlock(arg(0));
    else if (op == "lock")
        return hold(*backend, args);
    else
        throw usage_error("unknown operation " + op);
    return 0;
}

// Says what went wrong and returns the exit code for it (see above).
int failed(const Error& e) {
    if (const auto* held = dynamic_cast<const LockHeld*>(&e))
        std::cout << holder_json(held->holder()).dump() << std::endl;
    std::cerr << "error: " << e.describe() << std::endl;
    if (dynamic_cast<const VersionConflict*>(&e))
        return 3;
    if (dynamic_cast<const LockHeld*>(&e))
        return 4;
    return e.kind() == ErrorKind::Usage ? 2 : 1;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const Error& e) {
        return failed(e);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
