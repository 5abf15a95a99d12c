#include "deploy/exec.hpp"

#include "core/error.hpp"
#include "deploy/per_machine.hpp"
#include "deploy/selection.hpp"
#include "host/host.hpp"

#include <fmt/format.h>

namespace fedi::deploy {

namespace {

void run_on(session::Session& s, const model::Machine& m, const ExecRequest& request,
            ExecResult& r) {
    auto h = s.connector().connect(m);
    auto line = [&](bool is_err) {
        return [&, is_err](const std::string& l) {
            if (request.on_line)
                request.on_line(m.name, l, is_err);
        };
    };
    auto c = h->run_streaming(request.command, line(false), line(true));
    r.exit_status = c.exit_status;
    r.out = std::move(c.out);
    r.err = std::move(c.err);
    if (r.exit_status != 0)
        s.events().warn(m.name, fmt::format("exit status {}", r.exit_status));
}

} // namespace

std::vector<ExecResult> run_exec(session::Session& s, const ExecRequest& request) {
    auto selected = select_machines(s.deployment(), request.on);
    PerMachine<ExecResult> results(selected);
    session::MachineWork work;
    work.run = [&](const std::string& name) {
        run_on(s, s.deployment().machines.at(name), request, results[name]);
        return true;
    };
    work.on_error = [&](const std::string& name, const std::string& error) {
        results[name].error = error;
        s.events().error(name, error);
    };
    work.on_skipped = [](const std::string&, const std::string&) {};
    session::for_each_machine(session::independent_jobs(selected), s.limits().machines, work);
    return std::move(results.all());
}

std::vector<ExecResult> run_exec(const ExecOptions& opts, ui::Events& events) {
    if (opts.request.command.empty())
        throw usage_error("give the command to run after `--`, e.g. fedi exec -- uptime");
    auto options = opts.session;
    options.state_mode = session::StateMode::ReadOnly;
    auto s = session::open_session(options, events);
    return run_exec(*s, opts.request);
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
