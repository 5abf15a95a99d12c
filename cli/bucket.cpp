#include "commands.hpp"
#include "session_options.hpp"
#include "storage/bucket_command.hpp"

#include <iostream>

namespace fedi::cli {

namespace {

using Options = std::shared_ptr<storage::BucketOptions>;
using A = storage::BucketAction;

// What a bucket subcommand takes besides BUCKET.
enum class Takes { Bucket, Key, KeyAndPermissions };

struct BucketCommand {
    const char* name;
    const char* help;
    A action;
    Takes takes;
    const char* key_help = "Key name or access key id";
};

// Runs the one library call for `a` with options filled from the global ones.
Action bucket_action(GlobalOptions& g, const Options& o, A a) {
    return [&g, o, a] {
        o->action = a;
        o->session = session_options(g);
        ui::Reporter reporter(g.output());
        auto result = storage::run_bucket_command(*o, reporter);
        if (g.json)
            print_json(result.dump(2));
        else
            std::cout << storage::render_bucket_result(a, result,
                                                       ui::use_color(g.output().color, 1));
        return 0;
    };
}

CLI::App* add_command(CLI::App* parent, GlobalOptions& g, Action& action, const Options& o,
                      const BucketCommand& c) {
    auto* cmd = parent->add_subcommand(c.name, c.help);
    if (c.action != A::List)
        cmd->add_option("BUCKET", o->bucket)->required();
    if (c.takes != Takes::Bucket)
        cmd->add_option("KEY", o->key, c.key_help)->required();
    if (c.takes == Takes::KeyAndPermissions) {
        cmd->add_flag("--read", o->read, "Read objects");
        cmd->add_flag("--write", o->write, "Write and delete objects");
        cmd->add_flag("--owner", o->owner, "Change the bucket's settings");
    }
    cmd->callback([&g, &action, o, a = c.action] { action = bucket_action(g, o, a); });
    return cmd;
}

const BucketCommand bucket_commands[] = {
    {"list", "Buckets on the storage (declared or not)", A::List, Takes::Bucket},
    {"info", "A bucket's id, size, quotas, website and keys", A::Info, Takes::Bucket},
    {"create", "Create a bucket: as declared, or ad hoc (recorded in state as such)", A::Create,
     Takes::Bucket},
    {"delete", "Delete a bucket that is not declared", A::Delete, Takes::Bucket},
    {"allow", "Give a key permissions on a bucket", A::Allow, Takes::KeyAndPermissions},
    {"deny", "Take permissions on a bucket from a key", A::Deny, Takes::KeyAndPermissions},
};

const BucketCommand key_commands[] = {
    {"list", "Keys with access to a bucket", A::KeyList, Takes::Bucket},
    {"create", "Create an ad hoc key (default --read --write); prints its secret once",
     A::KeyCreate, Takes::KeyAndPermissions, "A name for the key"},
    {"delete", "Delete a key that is not declared", A::KeyDelete, Takes::Key},
};

} // namespace

void register_bucket(CLI::App& app, GlobalOptions& g, Action& action) {
    auto o = std::make_shared<storage::BucketOptions>();
    auto* cmd = app.add_subcommand("bucket", "List, create, inspect and delete buckets and keys");
    cmd->require_subcommand(1);
    cmd->add_option("--storage", o->storage,
                    "storage.<NAME> to use (default: the bucket's, or the only one)");
    for (const auto& c : bucket_commands) {
        auto* sub = add_command(cmd, g, action, o, c);
        if (c.action == A::Delete)
            sub->add_flag("--force", o->force,
                          "Delete it even if it holds objects (they are deleted)");
    }
    auto* key = cmd->add_subcommand("key", "Keys of a bucket");
    key->require_subcommand(1);
    for (const auto& c : key_commands)
        add_command(key, g, action, o, c);
}

} // namespace fedi::cli
