#include "commands.hpp"
#include "deploy/buckets.hpp"

#include <iostream>

namespace fedi::cli {

namespace {

void add_permission_flags(CLI::App* cmd, deploy::BucketOptions& o) {
    cmd->add_flag("--read", o.read, "Read objects");
    cmd->add_flag("--write", o.write, "Write and delete objects");
    cmd->add_flag("--owner", o.owner, "Change the bucket's settings");
}

} // namespace

void register_bucket(CLI::App& app, GlobalOptions& g, Action& action) {
    auto o = std::make_shared<deploy::BucketOptions>();
    auto* cmd = app.add_subcommand("bucket", "List, create, inspect and delete buckets and keys");
    cmd->require_subcommand(1);
    cmd->add_option("--storage", o->storage,
                    "storage.<NAME> to use (default: the bucket's, or the only one)");
    auto run = [&g, &action, o](deploy::BucketAction a) {
        return [&g, &action, o, a] {
            action = [&g, o, a] {
                o->action = a;
                o->project.deployment_file = g.file;
                o->project.state_file = g.state_file;
                o->command_line = g.command_line;
                ui::Reporter reporter(g.output());
                auto result = deploy::run_bucket_command(*o, reporter);
                if (g.json)
                    print_json(result.dump(2));
                else
                    std::cout << deploy::render_bucket_result(a, result,
                                                              ui::use_color(g.output().color, 1));
                return 0;
            };
        };
    };
    using A = deploy::BucketAction;
    cmd->add_subcommand("list", "Buckets on the storage (declared or not)")->callback(run(A::List));
    auto* info = cmd->add_subcommand("info", "A bucket's id, size, quotas, website and keys");
    info->add_option("BUCKET", o->bucket)->required();
    info->callback(run(A::Info));
    auto* create = cmd->add_subcommand(
        "create", "Create a bucket: as declared, or ad hoc (recorded in state as such)");
    create->add_option("BUCKET", o->bucket)->required();
    create->callback(run(A::Create));
    auto* del = cmd->add_subcommand("delete", "Delete a bucket that is not declared");
    del->add_option("BUCKET", o->bucket)->required();
    del->add_flag("--force", o->force, "Delete it even if it holds objects (they are deleted)");
    del->callback(run(A::Delete));
    auto* allow = cmd->add_subcommand("allow", "Give a key permissions on a bucket");
    allow->add_option("BUCKET", o->bucket)->required();
    allow->add_option("KEY", o->key, "Key name or access key id")->required();
    add_permission_flags(allow, *o);
    allow->callback(run(A::Allow));
    auto* deny = cmd->add_subcommand("deny", "Take permissions on a bucket from a key");
    deny->add_option("BUCKET", o->bucket)->required();
    deny->add_option("KEY", o->key, "Key name or access key id")->required();
    add_permission_flags(deny, *o);
    deny->callback(run(A::Deny));

    auto* key = cmd->add_subcommand("key", "Keys of a bucket");
    key->require_subcommand(1);
    auto* klist = key->add_subcommand("list", "Keys with access to a bucket");
    klist->add_option("BUCKET", o->bucket)->required();
    klist->callback(run(A::KeyList));
    auto* kcreate = key->add_subcommand(
        "create", "Create an ad hoc key (default --read --write); prints its secret once");
    kcreate->add_option("BUCKET", o->bucket)->required();
    kcreate->add_option("KEY", o->key, "A name for the key")->required();
    add_permission_flags(kcreate, *o);
    kcreate->callback(run(A::KeyCreate));
    auto* kdelete = key->add_subcommand("delete", "Delete a key that is not declared");
    kdelete->add_option("BUCKET", o->bucket)->required();
    kdelete->add_option("KEY", o->key, "Key name or access key id")->required();
    kdelete->callback(run(A::KeyDelete));
}

} // namespace fedi::cli
