#include "cache/commands.hpp"
#include "commands.hpp"
#include "session_options.hpp"

#include <iostream>

namespace fedi::cli {

namespace {

using Options = std::shared_ptr<cache::CacheOptions>;
using A = cache::CacheAction;

CLI::App* add_command(CLI::App* parent, GlobalOptions& g, Action& action, const Options& o,
                      const char* name, const char* help, A a) {
    auto* cmd = parent->add_subcommand(name, help);
    cmd->callback([&g, &action, o, a] {
        action = [&g, o, a] {
            o->action = a;
            o->session = session_options(g);
            ui::Reporter reporter(g.output());
            auto result = cache::run_cache_command(*o, reporter);
            if (g.json)
                print_json(result.dump(2));
            else
                std::cout << cache::render_cache_result(a, result);
            return 0;
        };
    });
    return cmd;
}

} // namespace

void register_cache(CLI::App& app, GlobalOptions& g, Action& action) {
    auto o = std::make_shared<cache::CacheOptions>();
    auto* cmd = app.add_subcommand("cache", "The deployment's binary cache (`cache`)");
    cmd->require_subcommand(1);
    add_command(cmd, g, action, o, "info",
                "Its URL, public key, and how many paths and bytes it holds", A::Info);
    auto* gc =
        add_command(cmd, g, action, o, "gc",
                    "Remove what the last generations of the machines in state do not use", A::Gc);
    gc->add_option("--keep-generations", o->keep_generations,
                   "Keep the closures of the last N generations of every machine")
        ->required()
        ->check(CLI::PositiveNumber)
        ->option_text("N");
    gc->add_flag("--dry-run", o->dry_run, "Only say what would be removed");
    auto* push = add_command(cmd, g, action, o, "push",
                             "Upload the closures of store paths the cache lacks", A::Push);
    push->add_option("PATH", o->paths, "Store paths, or links to them such as ./result")
        ->required();
}

} // namespace fedi::cli
