#include "deploy/deploy.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "deploy/fleet_cache.hpp"
#include "deploy/lock_scopes.hpp"
#include "options.hpp"
#include "plan/apply.hpp"
#include "session_options.hpp"

namespace fedi::cli {

namespace {

// What `fedi deploy` is told: what to deploy, and the session it runs in.
struct DeployCommand {
    deploy::DeployOptions deploy;
    std::string goal = "switch";
    int parallel = 0;      // machines at once (0: default)
    int max_pushes = 0;    // closures streamed at once (0: default)
    bool dry_run = false;  // print the plan instead (`fedi plan`)
    std::string plan_file; // --plan: apply this saved plan
    std::string transfer = "auto";
};

int run(const GlobalOptions& g, DeployCommand& c) {
    c.deploy.goal = *model::parse_goal(c.goal);
    c.deploy.transfer = *deploy::parse_transfer(c.transfer);
    if (c.dry_run) // the plan `fedi plan` prints
        return run_plan(g, {c.deploy.on, c.deploy.goal, c.parallel, "", false});
    std::optional<plan::Plan> saved;
    if (!c.plan_file.empty()) { // the plan's selection and goal, locked as a deploy of them
        saved = plan::read_plan_file(c.plan_file);
        c.deploy.on = saved->on;
        c.deploy.goal = saved->goal;
    }
    auto so = session_options(g);
    so.state_mode = deploy::state_mode(c.deploy);
    so.lock_scopes = [&c](const session::Project& p) {
        return deploy::lock_scopes(p.deployment, c.deploy);
    };
    so.limits = session::Limits::from_options(c.parallel, c.max_pushes);
    ui::Reporter reporter(g.output());
    auto session = session::open_session(so, reporter);
    c.deploy.open_cache = deploy::deployment_cache(session->deployment());
    if (saved)
        return print_deploy_report(g, plan::apply_plan(*session, *saved, c.plan_file, c.deploy));
    return print_deploy_report(g, deploy::run_deploy(*session, c.deploy));
}

} // namespace

void register_deploy(CLI::App& app, GlobalOptions& g, Action& action) {
    auto c = std::make_shared<DeployCommand>();
    auto* opts = &c->deploy;
    auto* cmd = app.add_subcommand(
        "deploy", "Converge the selected machines: provision, build, push, storage, secrets, "
                  "activate, accounts");
    cmd->footer("Order: missing machines are provisioned and the deployment evaluated again\n"
                "with their outputs; storage machines deploy first, then buckets and keys are\n"
                "created; each machine's secrets are written before it activates; accounts\n"
                "are made once their machine runs.\n"
                "Converges: machines that already run their system are left alone.\n"
                "Each machine's closure is sent in one stream, only the paths it lacks.\n"
                "--dry-run prints the plan `fedi plan` prints; --plan FILE applies a plan saved\n"
                "with `fedi plan --out FILE` after checking that nothing moved since.");
    auto* on = one_value_each(cmd->add_option(
        "--on", opts->on, "Select machines by NAME, GLOB or @TAG (repeatable; default: all)"));
    on->option_text("NAME|GLOB|@TAG");
    auto* goal = cmd->add_option("--goal", c->goal,
                                 "build, push, switch (default), boot, test or "
                                 "dry-activate")
                     ->check(one_of({"build", "push", "switch", "boot", "test", "dry-activate"}));
    cmd->add_option("--parallel", c->parallel, "Machines deployed at once (default 16)")
        ->check(at_least(1));
    cmd->add_option("--max-pushes", c->max_pushes,
                    "Closures sent at once, within --parallel (default 4)")
        ->check(at_least(1));
    cmd->add_flag(
        "--no-rollback", [c](std::int64_t) { c->deploy.rollback = false; },
        "Keep a system whose activation failed (for debugging)");
    cmd->add_option("--keep-generations", opts->keep_generations,
                    "System generations and activation logs kept on each deployed machine; "
                    "older ones are removed (never the running or booted one; 0: keep all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--confirm-timeout", opts->confirm_seconds,
                    "Seconds a machine waits, after switch/test, for fedi to confirm over a new "
                    "SSH connection before it reverts by itself (0: no confirmation)")
        ->capture_default_str()
        ->check(at_least(0));
    cmd->add_option("--transfer", c->transfer,
                    "How machines get the paths they lack: push (each over SSH), cache "
                    "(uploaded once to the deployment's binary cache, fetched from there by "
                    "every machine; what it cannot give is pushed) or auto (cache when one is "
                    "declared and more than 3 machines deploy)")
        ->capture_default_str()
        ->check(one_of({"push", "cache", "auto"}));
    cmd->add_flag("--substitute-on-target", opts->substitute_on_target,
                  "Each machine first fetches what its own substituters (e.g. cache.nixos.org) "
                  "have (per machine: substituteOnTarget)");
    auto* dry_run = cmd->add_flag("--dry-run", c->dry_run,
                                  "Show the plan (as `fedi plan` does); change nothing");
    cmd->add_option("--plan", c->plan_file,
                    "Apply the plan saved by `fedi plan --out FILE`: its machines and goal, "
                    "refused if the deployment or the machines changed since")
        ->option_text("FILE")
        ->check(names_a_file())
        ->excludes(on)
        ->excludes(goal)
        ->excludes(dry_run);
    cmd->callback([&g, &action, c] { action = [&g, c] { return run(g, *c); }; });
}

} // namespace fedi::cli
