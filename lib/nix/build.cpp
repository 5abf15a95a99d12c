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

namespace {

// Reads `nix-store --log-format internal-json` stderr: forwards log lines and Nix's build
// count, keeps each derivation's last log lines and the error messages for afterwards.
class BuildLogReader {
  public:
    BuildLogReader(const std::function<void(const std::string&)>& on_log,
                   std::size_t log_tail_lines,
                   const std::function<void(const BuildProgress&)>& on_progress)
        : on_log_(on_log), on_progress_(on_progress), log_tail_lines_(log_tail_lines) {}

    void line(const std::string& line) {
        static const std::string prefix = "@nix ";
        if (line.rfind(prefix, 0) != 0) {
            if (!line.empty())
                log(strip_ansi(line));
            return;
        }
        auto ev = nlohmann::json::parse(line.substr(prefix.size()), nullptr, false);
        if (!ev.is_discarded())
            event(ev);
    }

    const std::vector<std::string>& error_messages() const { return error_messages_; }
    std::vector<std::string> log_tail(const std::string& drv) const {
        auto it = log_tail_.find(drv);
        if (it == log_tail_.end())
            return {};
        return {it->second.begin(), it->second.end()};
    }

  private:
    void log(const std::string& text) const {
        if (on_log_)
            on_log_(text);
    }

    void event(const nlohmann::json& ev) {
        std::string action = ev.value("action", "");
        auto type = [&ev] { return ev.value("type", 0); };
        if (action == "start" && type() == kActBuilds)
            builds_activity_ = ev.value("id", 0LL);
        else if (action == "result" && type() == kResProgress &&
                 builds_activity_ == ev.value("id", 0LL))
            progress(ev.value("fields", nlohmann::json::array()));
        else if (action == "start" && type() == kActBuild)
            build_started(ev);
        else if (action == "result" && type() == kResBuildLogLine)
            build_log_line(ev);
        else if (action == "msg" && ev.value("level", 9) == 0)
            error_messages_.push_back(strip_ansi(ev.value("msg", "")));
    }

    void progress(const nlohmann::json& fields) const {
        if (!on_progress_ || fields.size() < 4 ||
            !std::all_of(fields.begin(), fields.begin() + 4,
                         [](const auto& f) { return f.is_number_integer(); }))
            return;
        BuildProgress p;
        p.done = fields[0].get<long long>();
        p.expected = fields[1].get<long long>();
        p.running = fields[2].get<long long>();
        p.failed = fields[3].get<long long>();
        on_progress_(p);
    }

    void build_started(const nlohmann::json& ev) {
        auto fields = ev.value("fields", nlohmann::json::array());
        if (fields.empty() || !fields[0].is_string())
            return;
        activity_drv_[ev.value("id", 0LL)] = fields[0].get<std::string>();
        log(strip_ansi(ev.value("text", "")));
    }

    void build_log_line(const nlohmann::json& ev) {
        auto it = activity_drv_.find(ev.value("id", 0LL));
        auto fields = ev.value("fields", nlohmann::json::array());
        if (it == activity_drv_.end() || fields.empty() || !fields[0].is_string())
            return;
        auto& tail = log_tail_[it->second];
        tail.push_back(strip_ansi(fields[0].get<std::string>()));
        log(derivation_name(it->second) + "> " + tail.back());
        if (tail.size() > log_tail_lines_)
            tail.pop_front();
    }

    const std::function<void(const std::string&)>& on_log_;
    const std::function<void(const BuildProgress&)>& on_progress_;
    std::size_t log_tail_lines_;
    std::map<long long, std::string> activity_drv_;           // build activity id -> drv
    std::map<std::string, std::deque<std::string>> log_tail_; // drv -> last log lines
    std::vector<std::string> error_messages_;
    std::optional<long long> builds_activity_; // the activity that counts derivations
};

// What is left to realise: derivations and the outputs to check afterwards.
struct BuildWork {
    std::vector<std::string> drv_paths;
    std::vector<std::string> out_paths;
};

// Outputs already valid need no nix-store --realise (which costs more than the check:
// it reads every derivation); they go to `outcome.built`. Only when each derivation comes
// with its output.
BuildWork skip_valid_outputs(const std::vector<std::string>& drv_paths,
                             const std::vector<std::string>& out_paths, BuildOutcome& outcome) {
    if (drv_paths.size() != out_paths.size())
        return {drv_paths, out_paths};
    BuildWork work;
    auto invalid = invalid_paths(out_paths);
    for (std::size_t i = 0; i < out_paths.size(); ++i) {
        if (invalid.count(out_paths[i])) {
            work.drv_paths.push_back(drv_paths[i]);
            work.out_paths.push_back(out_paths[i]);
        } else {
            outcome.built.push_back(out_paths[i]);
        }
    }
    return work;
}

// Sorts Nix's error messages into builder failures (with their log tails) and other
// errors; the "dependencies couldn't be built" echoes of a failure are dropped.
void attribute_errors(const BuildLogReader& reader, BuildOutcome& outcome) {
    static const std::regex builder_failed(R"(builder for '([^']+\.drv)' failed)");
    for (const auto& msg : reader.error_messages()) {
        std::smatch m;
        if (std::regex_search(msg, m, builder_failed)) {
            BuildFailure f;
            f.drv_path = m[1];
            f.message = msg.substr(0, msg.find('\n'));
            f.log_tail = reader.log_tail(f.drv_path);
            outcome.failures.push_back(std::move(f));
        } else if (msg.find("dependencies couldn't be built") == std::string::npos &&
                   msg.find("build of ") == std::string::npos) {
            outcome.other_errors.push_back(msg);
        }
    }
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
    auto work = skip_valid_outputs(drv_paths, out_paths, outcome);
    if (work.drv_paths.empty())
        return outcome;

    BuildLogReader reader(on_log, log_tail_lines, on_progress);
    ProcessOptions opts;
    opts.on_stderr_line = [&reader](const std::string& line) { reader.line(line); };
    std::vector<std::string> argv = {"nix-store", "--realise", "--keep-going", "--log-format",
                                     "internal-json"};
    argv.insert(argv.end(), work.drv_paths.begin(), work.drv_paths.end());
    auto result = run_process(argv, opts);

    // Which outputs are valid now, whatever the exit status says.
    auto invalid = invalid_paths(work.out_paths);
    for (const auto& p : work.out_paths)
        (invalid.count(p) ? outcome.failed : outcome.built).push_back(p);
    attribute_errors(reader, outcome);
    if (!result.ok() && outcome.failed.empty())
        throw Error(fmt::format("nix-store --realise failed (exit code {}) although every "
                                "system is valid:\n{}",
                                result.exit_code, fmt::join(reader.error_messages(), "\n")));
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
