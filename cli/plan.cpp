#include "commands.hpp"
#include "options.hpp"
#include "plan/apply.hpp"
#include "plan/plan_json.hpp"
#include "plan/planner.hpp"
#include "plan/render.hpp"
#include "session_options.hpp"

#include <iostream>

namespace fedi::cli {

namespace {

struct PlanCommand {
    PlanRun run;
    std::string goal = "switch";
};

int print_plan(const GlobalOptions& g, const plan::Plan& p, bool detailed_exitcode) {
    if (g.json)
        print_json(plan::to_json(p).dump(2));
    else
        std::cout << plan::render_plan(p, ui::use_color(g.output().color, 1)) << std::flush;
    if (!p.ok())
        return 1;
    return detailed_exitcode && p.changes() ? 2 : 0;
}

} // namespace

int run_plan(const GlobalOptions& g, const PlanRun& run) {
    auto so = session_options(g);
    so.state_mode = session::StateMode::ReadOnly;
    so.limits = session::Limits::from_options(run.parallel, 0);
    ui::Reporter reporter(g.output());
    auto session = session::open_session(so, reporter);
    auto p = plan::make_plan(*session, {run.on, run.goal});
    reporter.end_status();
    if (!run.out.empty()) {
        plan::write_plan_file(run.out, p);
        reporter.info("plan",
                      "saved to " + run.out + "; apply it with: fedi deploy --plan " + run.out);
    }
    return print_plan(g, p, run.detailed_exitcode);
}

void register_plan(CLI::App& app, GlobalOptions& g, Action& action) {
    auto c = std::make_shared<PlanCommand>();
    auto* cmd = app.add_subcommand("plan", "Show what `fedi deploy` would change; change nothing");
    cmd->footer(
        "Asks the machines, providers, storage and directories what a deploy would change\n"
        "and prints it per machine (+ create, ~ update, - destroy, ± replace), or with\n"
        "--json the document described by doc/plan.schema.json. Progress goes to stderr.\n"
        "--out FILE saves the plan (evaluated systems and the observed state, never a\n"
        "secret value); `fedi deploy --plan FILE` applies it only if nothing moved since.\n"
        "Exit codes: 0 nothing would change (or changes pending, without\n"
        "--detailed-exitcode), 1 the plan could not be made completely, 2 with\n"
        "--detailed-exitcode: changes are pending. 2 is also the exit code of a usage or\n"
        "deployment-file error (as with Terraform): tell them apart by the message on stderr.");
    one_value_each(
        cmd->add_option("--on", c->run.on,
                        "Select machines by NAME, GLOB or @TAG (repeatable; default: all)"))
        ->option_text("NAME|GLOB|@TAG");
    cmd->add_option("--goal", c->goal, "build, push, switch (default), boot, test or dry-activate")
        ->check(one_of({"build", "push", "switch", "boot", "test", "dry-activate"}));
    cmd->add_option("--parallel", c->run.parallel, "Machines asked at once (default 16)")
        ->check(at_least(1));
    cmd->add_option("--out", c->run.out, "Also save the plan to FILE for `fedi deploy --plan FILE`")
        ->option_text("FILE")
        ->check(names_a_file());
    cmd->add_flag("--detailed-exitcode", c->run.detailed_exitcode,
                  "Exit 2 when changes are pending (0: none, 1: error), for CI drift checks");
    cmd->callback([&g, &action, c] {
        action = [&g, c] {
            c->run.goal = *model::parse_goal(c->goal);
            return run_plan(g, c->run);
        };
    });
}

} // namespace fedi::cli
