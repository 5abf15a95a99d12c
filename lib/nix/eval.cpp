#include "nix/eval.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <unistd.h>

namespace fedi::nix {

namespace {

// The file names reach Nix through the environment, so that no quoting of Nix string
// literals is needed and no value ends up in the process arguments.
constexpr const char* kEvalExpression = R"nix(
let
  deploymentFile = builtins.getEnv "FEDI_DEPLOYMENT_FILE";
  resourcesFile = builtins.getEnv "FEDI_RESOURCES_FILE";
  raw = import (/. + deploymentFile);
  resources = if resourcesFile == "" then { }
              else builtins.fromJSON (builtins.readFile (/. + resourcesFile));
  deployment = if builtins.isFunction raw then raw { inherit resources; } else raw;
  # meta.state alone, read before the state (FEDI_EVAL_PART=meta.state).
  part = builtins.getEnv "FEDI_EVAL_PART";
  meta = if builtins.isAttrs deployment then deployment.meta or { } else { };
  metaState = if builtins.isAttrs meta then meta.state or null else null;
  toData = v:
    if builtins.isAttrs v then
      (if (v.type or null) == "derivation" then {
        __fedi = "derivation";
        drvPath = v.drvPath;
        outputPath = v.outPath;
        name = v.name or "";
      } else builtins.mapAttrs (n: toData) v)
    else if builtins.isList v then map toData v
    else if builtins.isFunction v then { __fedi = "function"; }
    else if builtins.isPath v then { __fedi = "path"; value = toString v; }
    else v;
in if part == "meta.state" then toData metaState
   else if part == "isFunction" then builtins.isFunction raw
   else toData deployment
)nix";

// Nix colours its messages even when told not to in some versions; strip ANSI escapes.
std::string strip_ansi(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
            i += 2;
            while (i < s.size() && !(s[i] >= '@' && s[i] <= '~'))
                ++i;
            continue;
        }
        out += s[i];
    }
    return out;
}

} // namespace

std::vector<std::string> nix_command(std::vector<std::string> args) {
    std::vector<std::string> argv = {"nix", "--extra-experimental-features", "nix-command"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

namespace {

std::filesystem::path existing_deployment(const std::string& file) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(file, ec);
    if (ec || !std::filesystem::exists(abs))
        throw usage_error(fmt::format("deployment file {} does not exist", file));
    return abs.lexically_normal();
}

// `resources` in a private temporary file (0600) for Nix to read; empty: none needed.
std::string write_resources_file(const nlohmann::json& resources) {
    if (resources.empty())
        return {};
    char tmpl[] = "/tmp/fedi-resources-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        throw Error("cannot create a temporary file for evaluation");
    std::string text = resources.dump();
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) {
        std::error_code ec;
        std::filesystem::remove(tmpl, ec);
        throw Error("cannot write the temporary resources file");
    }
    return tmpl;
}

// Evaluates `part` of the deployment at `abs` (empty: all of it) into JSON.
nlohmann::json run_eval(const std::filesystem::path& abs, const std::string& resources_file,
                        const std::string& part) {
    ProcessOptions opts;
    opts.extra_env["FEDI_DEPLOYMENT_FILE"] = abs.string();
    opts.extra_env["FEDI_RESOURCES_FILE"] = resources_file;
    opts.extra_env["FEDI_EVAL_PART"] = part;
    auto result =
        run_process(nix_command({"eval", "--impure", "--json", "--expr", kEvalExpression}), opts);
    if (!result.ok()) {
        std::string message = strip_ansi(result.err);
        // That hint names a flag of nix's, not of fedi's.
        auto hint = message.find("(use '--show-trace'");
        if (hint != std::string::npos)
            message.erase(hint, message.find('\n', hint) - hint);
        message = trim(message);
        throw usage_error(fmt::format("cannot evaluate {}:\n{}", abs.string(), message));
    }
    try {
        return nlohmann::json::parse(result.out);
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("nix eval printed something that is not JSON: {}", e.what()));
    }
}

} // namespace

nlohmann::json evaluate_deployment(const std::string& file, const nlohmann::json& resources) {
    auto abs = existing_deployment(file);
    // Removed once evaluated, whatever happens.
    struct Removed {
        std::string file;
        ~Removed() {
            std::error_code ec;
            if (!file.empty())
                std::filesystem::remove(file, ec);
        }
    } resources_file{write_resources_file(resources)};
    return run_eval(abs, resources_file.file, "");
}

nlohmann::json evaluate_state_settings(const std::string& file) {
    auto abs = existing_deployment(file);
    try {
        return run_eval(abs, "", "meta.state");
    } catch (Error& e) {
        bool function = false;
        try {
            function = run_eval(abs, "", "isFunction") == true;
        } catch (const Error&) {
        }
        if (function)
            e.with_context("while reading meta.state before the state: the deployment function "
                           "is called with empty resources then, so meta.state must not use "
                           "resources");
        throw;
    }
}

} // namespace fedi::nix
