#include "commands.hpp"
#include "options.hpp"
#include "plan/plan_json.hpp"
#include "plan/planner.hpp"
#include "session_options.hpp"

namespace fedi::cli {

namespace {

struct PlanCommand {
    plan::PlanOptions plan;
    std::string goal = "switch";
};

int run(const GlobalOptions& g, PlanCommand& c) {
    c.plan.goal = *model::parse_goal(c.goal);
    auto so = session_options(g);
    so.state_mode = session::StateMode::ReadOnly;
    ui::Reporter reporter(g.output());
    auto session = session::open_session(so, reporter);
    auto p = plan::make_plan(*session, c.plan);
    print_json(plan::to_json(p).dump(2));
    return p.ok() ? 0 : 1;
}

} // namespace

void register_plan(CLI::App& app, GlobalOptions& g, Action& action) {
    auto c = std::make_shared<PlanCommand>();
    auto* cmd = app.add_subcommand("plan", "Show what `fedi deploy` would change; change nothing");
    one_value_each(
        cmd->add_option("--on", c->plan.on,
                        "Select machines by NAME, GLOB or @TAG (repeatable; default: all)"))
        ->option_text("NAME|GLOB|@TAG");
    cmd->add_option("--goal", c->goal, "build, push, switch (default), boot, test or dry-activate")
        ->check(one_of({"build", "push", "switch", "boot", "test", "dry-activate"}));
    cmd->callback([&g, &action, c] { action = [&g, c] { return run(g, *c); }; });
}

} // namespace fedi::cli
