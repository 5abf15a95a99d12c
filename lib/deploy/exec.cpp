#include "deploy/exec.hpp"

#include "core/error.hpp"
#include "deploy/selection.hpp"
#include "host/host.hpp"
#include "state/state.hpp"

#include <algorithm>
#include <atomic>
#include <fmt/format.h>
#include <thread>

namespace fedi::deploy {

namespace {
constexpr int kDefaultParallel = 16;
}

std::vector<ExecResult> run_exec(const ExecOptions& opts, ui::Events& reporter) {
    if (opts.command.empty())
        throw usage_error("give the command to run after `--`, e.g. fedi exec -- uptime");
    auto project = session::load_project(opts.project);
    auto selected = select_machines(project.deployment, opts.on);
    auto st = state::load(project.state_file);

    std::vector<ExecResult> results(selected.size());
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i; (i = next++) < selected.size();) {
            const auto& m = project.deployment.machines.at(selected[i]);
            auto& r = results[i];
            r.name = m.name;
            auto settings = host::settings_for(m, state::trusted_host_keys(st, m.name));
            try {
                auto h = host::Host::connect(settings);
                auto line = [&](bool is_err) {
                    return [&, is_err](const std::string& l) {
                        if (opts.on_line)
                            opts.on_line(m.name, l, is_err);
                    };
                };
                auto c = h->run_streaming(opts.command, line(false), line(true));
                r.exit_status = c.exit_status;
                r.out = std::move(c.out);
                r.err = std::move(c.err);
                if (r.exit_status != 0)
                    reporter.warn(m.name, fmt::format("exit status {}", r.exit_status));
            } catch (const Error& e) {
                r.error = e.describe();
                reporter.error(m.name, r.error);
            }
        }
    };
    int parallel = opts.parallel > 0 ? opts.parallel : kDefaultParallel;
    std::vector<std::thread> threads;
    for (int t = 0; t < std::min<int>(parallel, static_cast<int>(selected.size())); ++t)
        threads.emplace_back(worker);
    for (auto& t : threads)
        t.join();
    return results;
}

nlohmann::json to_json(const std::vector<ExecResult>& results) {
    nlohmann::json machines = nlohmann::json::array();
    bool ok = true;
    for (const auto& r : results) {
        nlohmann::json j = {{"name", r.name}, {"stdout", r.out}, {"stderr", r.err}};
        j["exitStatus"] = r.exit_status >= 0 ? nlohmann::json(r.exit_status) : nlohmann::json();
        if (!r.error.empty())
            j["error"] = r.error;
        ok = ok && r.ok();
        machines.push_back(j);
    }
    return {{"ok", ok}, {"machines", machines}};
}

} // namespace fedi::deploy
