// What a plan asks a machine: one command, one round trip (see plan-probe.sh).
#include "plan/machine_probe.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "host/remote_commands.hpp"
#include "host/remote_scripts.hpp"
#include "host/secrets.hpp"

#include <charconv>
#include <fmt/format.h>
#include <sstream>

namespace fedi::plan {

namespace {

// The probe's output cut at its "@@ NAME" lines: section name → its lines.
std::map<std::string, std::vector<std::string>> sections_of(const std::string& out) {
    std::map<std::string, std::vector<std::string>> sections;
    std::vector<std::string>* current = nullptr;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("@@ ", 0) == 0)
            current = &sections[line.substr(3)];
        else if (current && !line.empty())
            current->push_back(line);
        else if (!line.empty())
            throw Error(fmt::format("the plan probe printed \"{}\" before any section", line));
    }
    return sections;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines)
        text += l + "\n";
    return text;
}

std::uint64_t size_of(const std::string& text, const std::string& path) {
    std::uint64_t size = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
    if (ec != std::errc() || end != text.data() + text.size())
        throw Error(
            fmt::format("the machine's store gave \"{}\" as the NAR size of {}", text, path));
    return size;
}

std::map<std::string, std::uint64_t> current_closure(const std::vector<std::string>& paths,
                                                     const std::vector<std::string>& sizes) {
    if (paths.size() != sizes.size())
        throw Error(fmt::format("the machine's store listed {} paths in the running system's "
                                "closure but {} sizes",
                                paths.size(), sizes.size()));
    std::map<std::string, std::uint64_t> closure;
    for (std::size_t i = 0; i < paths.size(); ++i)
        closure[paths[i]] = size_of(sizes[i], paths[i]);
    return closure;
}

// The secrets directory: stat lines (parse_secret_list) joined with sha256sum's by name.
std::vector<SecretFacts> secrets(const std::vector<std::string>& listing,
                                 const std::vector<std::string>& hashes) {
    std::map<std::string, std::string> sha;
    for (const auto& line : hashes) {
        auto sep = line.find("  ");
        if (sep == std::string::npos)
            throw Error(
                fmt::format("cannot read the hash line \"{}\" of {}", line, host::kSecretsDir));
        sha[line.substr(line.rfind('/') + 1)] = line.substr(0, sep);
    }
    std::vector<SecretFacts> out;
    for (const auto& info : host::parse_secret_list(joined(listing))) {
        auto it = sha.find(info.name);
        if (it == sha.end())
            throw Error(fmt::format("{}/{} was listed but could not be hashed", host::kSecretsDir,
                                    info.name));
        out.push_back({info.name, info.owner, info.group, info.mode, it->second});
    }
    return out;
}

} // namespace

std::string machine_probe_command(const std::string& system, const host::ScriptPaths& paths) {
    return "system=" + shell_quote(system) + "\necho '@@ status'\n" +
           host::system_status_command() + "\n" +
           host::remote_script(host::RemoteScript::PlanProbe, paths);
}

MachineFacts parse_machine_facts(const std::string& out) {
    auto sections = sections_of(out);
    for (const auto& [name, lines] : sections)
        if (name != "status" && name != "missing" && name != "current" && name != "sizes" &&
            name != "secrets" && name != "sha256")
            throw Error(fmt::format("the plan probe printed an unknown section \"{}\"", name));
    if (!sections.count("status") || !sections.count("missing") || !sections.count("secrets"))
        throw Error("the plan probe's output is cut short (no status, missing or secrets "
                    "section)");
    MachineFacts f;
    f.status = host::parse_system_status(joined(sections["status"]));
    f.missing = sections["missing"];
    f.current_closure = current_closure(sections["current"], sections["sizes"]);
    f.secrets = secrets(sections["secrets"], sections["sha256"]);
    return f;
}

MachineFacts probe_machine(host::Host& h, const std::vector<std::string>& new_closure) {
    return probe_machine(h, "", new_closure);
}

MachineFacts probe_machine(host::Host& h, const std::string& system,
                           const std::vector<std::string>& new_closure) {
    std::string input;
    for (const auto& p : new_closure)
        input += p + "\n";
    auto r = h.run_with_input(machine_probe_command(system), input);
    if (r.exit_status != 0)
        throw Error(fmt::format("asking the machine what it runs and holds failed (exit "
                                "status {}): {}",
                                r.exit_status, r.err));
    return parse_machine_facts(r.out);
}

} // namespace fedi::plan
