// A test-only command line over a state backend (statestore::open_backend), so that
// integration tests can drive what `fedi state` and a deploy do to a remote state one
// step at a time. Keys come from the environment, as for fedi itself.
//
//   fedi-state-check LOCATION OPERATION ARGS...
//     read                     {"version", "bytes"} or null
//     write EXPECTED|-         stores stdin if the version is still EXPECTED (- : none yet);
//                              prints the new version
//     lock SECONDS SCOPE...    takes the scopes (waiting up to SECONDS), prints "locked",
//                              holds them until stdin closes
//     locks | history          JSON lists
//     unlock ID | read-version VERSION
//
// Exit codes: 0 done, 1 failed, 2 usage error, 3 version conflict, 4 lock held.
#include "core/error.hpp"
#include "statestore/backend.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <iterator>
#include <sstream>

using namespace fedi;
using namespace fedi::statestore;

namespace {

std::string all_of_stdin() {
    std::ostringstream s;
    s << std::cin.rdbuf();
    return s.str();
}

nlohmann::json holder_json(const LockHolder& h) {
    return {{"id", h.id},   {"scope", h.scope},     {"host", h.host},  {"user", h.user},
            {"pid", h.pid}, {"command", h.command}, {"since", h.since}};
}

void hold(Backend& backend, const std::vector<std::string>& args) {
    if (args.size() < 2)
        throw usage_error("lock SECONDS SCOPE...");
    LockRequest request;
    request.timeout = std::chrono::seconds(std::stol(args[0]));
    request.scopes.assign(args.begin() + 1, args.end());
    request.command = "fedi-state-check lock";
    auto held = backend.lock(request);
    std::cout << "locked" << std::endl;
    all_of_stdin();
}

void run(Backend& backend, const std::string& op, const std::vector<std::string>& args) {
    if (op == "read") {
        auto s = backend.read();
        std::cout << (s ? nlohmann::json{{"version", s->version}, {"bytes", s->bytes}}
                        : nlohmann::json())
                  << "\n";
    } else if (op == "write" && args.size() == 1) {
        std::optional<std::string> expected;
        if (args[0] != "-")
            expected = args[0];
        std::cout << backend.write(all_of_stdin(), expected) << "\n";
    } else if (op == "lock") {
        hold(backend, args);
    } else if (op == "locks") {
        auto out = nlohmann::json::array();
        for (const auto& h : backend.locks())
            out.push_back(holder_json(h));
        std::cout << out << "\n";
    } else if (op == "unlock" && args.size() == 1) {
        backend.unlock(args[0]);
    } else if (op == "history") {
        auto out = nlohmann::json::array();
        for (const auto& e : backend.history())
            out.push_back({{"version", e.version}, {"writtenAt", e.written_at}});
        std::cout << out << "\n";
    } else if (op == "read-version" && args.size() == 1) {
        auto s = backend.read_version(args[0]);
        std::cout << (s ? s->bytes : "") << (s ? "" : "(none)\n");
    } else {
        throw usage_error("unknown operation or wrong arguments: " + op);
    }
}

} // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 3)
            throw usage_error("usage: fedi-state-check LOCATION OPERATION ARGS...");
        BackendOptions options;
        options.command_line = "fedi-state-check";
        auto backend = open_backend(argv[1], options);
        run(*backend, argv[2], std::vector<std::string>(argv + 3, argv + argc));
        return 0;
    } catch (const VersionConflict& e) {
        std::cerr << "fedi-state-check: " << e.describe() << "\n";
        return 3;
    } catch (const LockHeld& e) {
        std::cerr << "fedi-state-check: " << e.describe() << "\n";
        return 4;
    } catch (const Error& e) {
        std::cerr << "fedi-state-check: " << e.describe() << "\n";
        return e.kind() == ErrorKind::Usage ? 2 : 1;
    }
}
