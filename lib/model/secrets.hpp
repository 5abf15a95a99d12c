#pragma once
// Declared secrets (`secrets.<name>`): a value fedi puts in a file in each named
// machine's /var/lib/fedi/secrets before activation. The value comes from fedi itself
// (generated, kept in state), a file or a command on the deployer, or another
// resource's output (an account's or a directory entry's password).
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fedi::model {

class AttrSet;

struct SecretSource {
    enum class Kind { Generate, File, Command, Account, Identity };
    Kind kind = Kind::Generate;
    int length = 32;                  // generate: characters (letters and digits)
    std::string file;                 // file: absolute path on the deployer
    std::vector<std::string> command; // command: argv run on the deployer, no shell
    std::string account;              // fromAccount: accounts.<name>
    std::string directory;            // fromIdentity: identity.<directory>
    std::string entry;                // fromIdentity: services.<entry> or users.<entry>
    bool entry_is_user = false;
    std::string describe() const; // "generated", "file /x", "command pass show x", ...
};

struct Secret {
    std::string name;
    std::vector<std::string> machines;
    std::string file; // name in /var/lib/fedi/secrets (default: the secret's name)
    std::string owner = "root";
    std::string group = "root";
    unsigned mode = 0400;
    bool allow_world_readable = false; // a mode readable by others is refused without it
    // Set: the file is an environment file "VARIABLE=value\n" (systemd EnvironmentFile=);
    // unset: the file holds the value alone, with no newline added.
    std::optional<std::string> environment_variable;
    SecretSource source;
};

// Parses `secrets.<name>` from the top-level attribute set; relative file names are
// taken from `base_dir` (the deployment file's directory).
std::map<std::string, Secret> parse_secrets(AttrSet& top, const nlohmann::json& evaluated,
                                            const std::string& base_dir);

// Parses a mode given as an octal string ("0400").
unsigned parse_mode(AttrSet& set, const std::string& attr, unsigned fallback);

nlohmann::json to_json(const Secret& s);

} // namespace fedi::model
