#include "nix/build.hpp"

#include "core/error.hpp"
#include "core/process.hpp"

#include <algorithm>
#include <deque>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

namespace fedi::nix {

namespace {

// Activity and result types of Nix's internal-json log format (libmain/progress-bar,
// libutil/logging.hh): stable since Nix 2.3.
constexpr int kActBuilds = 104; // the whole build; its progress counts derivations
constexpr int kActBuild = 105;
constexpr int kResBuildLogLine = 101;
constexpr int kResProgress = 105;

std::string strip_ansi(const std::string& s) {
    static const std::regex ansi("\x1b\\[[0-9;]*[A-Za-z]");
    return std::regex_replace(s, ansi, "");
}

// "foo-1.0" for "/nix/store/<hash>-foo-1.0.drv": how `nix build -L` prefixes log lines.
std::string derivation_name(const std::string& drv_path) {
    auto slash = drv_path.rfind('/');
    std::string base = slash == std::string::npos ? drv_path : drv_path.substr(slash + 1);
    auto dash = base.find('-');
    if (dash != std::string::npos)
        base = base.substr(dash + 1);
    if (base.size() > 4 && base.compare(base.size() - 4, 4, ".drv") == 0)
        base.resize(base.size() - 4);
    return base;
}

} // namespace

namespace {

// The paths among `paths` that are not valid in the local store (one nix-store call).
std::set<std::string> invalid_paths(const std::vector<std::string>& paths) {
    std::set<std::string> invalid;
    if (paths.empty())
        return invalid;
    std::vector<std::string> check = {"nix-store", "--check-validity", "--print-invalid"};
    check.insert(check.end(), paths.begin(), paths.end());
    auto validity = run_process(check);
    if (!validity.ok())
        throw Error(fmt::format("nix-store --check-validity failed: {}", validity.err));
    std::size_t pos = 0, nl;
    while ((nl = validity.out.find('\n', pos)) != std::string::npos) {
        invalid.insert(validity.out.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return invalid;
}

} // namespace

BuildOutcome build_systems(const std::vector<std::string>& drv_paths,
                           const std::vector<std::string>& out_paths,
                           const std::function<void(const std::string&)>& on_log,
                           std::size_t log_tail_lines,
                           const std::function<void(const BuildProgress&)>& on_progress) {
    BuildOutcome outcome;
    if (drv_paths.empty())
        return outcome;

    // Outputs already valid need no nix-store --realise (which costs more than the check:
    // it reads every derivation). Only when each derivation comes with its output.
    std::vector<std::string> to_build = drv_paths, to_check = out_paths;
    if (drv_paths.size() == out_paths.size()) {
        auto invalid = invalid_paths(out_paths);
        to_build.clear();
        to_check.clear();
        for (std::size_t i = 0; i < out_paths.size(); ++i) {
            if (invalid.count(out_paths[i])) {
                to_build.push_back(drv_paths[i]);
                to_check.push_back(out_paths[i]);
            } else {
                outcome.built.push_back(out_paths[i]);
            }
        }
        if (to_build.empty())
            return outcome;
    }

    std::map<long long, std::string> activity_drv;           // build activity id -> drv
    std::map<std::string, std::deque<std::string>> log_tail; // drv -> last log lines
    std::vector<std::string> error_messages;
    std::optional<long long> builds_activity; // the activity that counts derivations

    ProcessOptions opts;
    opts.on_stderr_line = [&](const std::string& line) {
        static const std::string prefix = "@nix ";
        if (line.rfind(prefix, 0) != 0) {
            if (!line.empty() && on_log)
                on_log(strip_ansi(line));
            return;
        }
        nlohmann::json ev = nlohmann::json::parse(line.substr(prefix.size()), nullptr, false);
        if (ev.is_discarded())
            return;
        std::string action = ev.value("action", "");
        if (action == "start" && ev.value("type", 0) == kActBuilds) {
            builds_activity = ev.value("id", 0LL);
        } else if (action == "result" && ev.value("type", 0) == kResProgress &&
                   builds_activity == ev.value("id", 0LL)) {
            auto fields = ev.value("fields", nlohmann::json::array());
            if (on_progress && fields.size() >= 4 &&
                std::all_of(fields.begin(), fields.begin() + 4,
                            [](const auto& f) { return f.is_number_integer(); })) {
                BuildProgress p;
                p.done = fields[0].get<long long>();
                p.expected = fields[1].get<long long>();
                p.running = fields[2].get<long long>();
                p.failed = fields[3].get<long long>();
                on_progress(p);
            }
        } else if (action == "start" && ev.value("type", 0) == kActBuild) {
            auto fields = ev.value("fields", nlohmann::json::array());
            if (!fields.empty() && fields[0].is_string()) {
                activity_drv[ev.value("id", 0LL)] = fields[0].get<std::string>();
                if (on_log)
                    on_log(strip_ansi(ev.value("text", "")));
            }
        } else if (action == "result" && ev.value("type", 0) == kResBuildLogLine) {
            auto it = activity_drv.find(ev.value("id", 0LL));
            auto fields = ev.value("fields", nlohmann::json::array());
            if (it != activity_drv.end() && !fields.empty() && fields[0].is_string()) {
                auto& tail = log_tail[it->second];
                tail.push_back(strip_ansi(fields[0].get<std::string>()));
                if (on_log)
                    on_log(derivation_name(it->second) + "> " + tail.back());
                if (tail.size() > log_tail_lines)
                    tail.pop_front();
            }
        } else if (action == "msg" && ev.value("level", 9) == 0) {
            error_messages.push_back(strip_ansi(ev.value("msg", "")));
        }
    };
    std::vector<std::string> argv = {"nix-store", "--realise", "--keep-going", "--log-format",
                                     "internal-json"};
    argv.insert(argv.end(), to_build.begin(), to_build.end());
    auto result = run_process(argv, opts);

    // Which outputs are valid now, whatever the exit status says.
    auto invalid = invalid_paths(to_check);
    for (const auto& p : to_check)
        (invalid.count(p) ? outcome.failed : outcome.built).push_back(p);

    static const std::regex builder_failed(R"(builder for '([^']+\.drv)' failed)");
    for (auto& msg : error_messages) {
        std::smatch m;
        if (std::regex_search(msg, m, builder_failed)) {
            BuildFailure f;
            f.drv_path = m[1];
            f.message = msg.substr(0, msg.find('\n'));
            auto& tail = log_tail[f.drv_path];
            f.log_tail.assign(tail.begin(), tail.end());
            outcome.failures.push_back(std::move(f));
        } else if (msg.find("dependencies couldn't be built") == std::string::npos &&
                   msg.find("build of ") == std::string::npos) {
            outcome.other_errors.push_back(msg);
        }
    }
    if (!result.ok() && outcome.failed.empty())
        throw Error(fmt::format("nix-store --realise failed (exit code {}) although every "
                                "system is valid:\n{}",
                                result.exit_code, fmt::join(error_messages, "\n")));
    return outcome;
}

std::vector<std::string> derivation_closure(const std::string& drv_path) {
    auto r = run_process({"nix-store", "--query", "--requisites", drv_path});
    if (!r.ok())
        throw Error(fmt::format("cannot query the dependencies of {}: {}", drv_path, r.err));
    std::vector<std::string> out;
    std::size_t pos = 0, nl;
    while ((nl = r.out.find('\n', pos)) != std::string::npos) {
        auto p = r.out.substr(pos, nl - pos);
        if (p.size() > 4 && p.compare(p.size() - 4, 4, ".drv") == 0)
            out.push_back(p);
        pos = nl + 1;
    }
    return out;
}

} // namespace fedi::nix
