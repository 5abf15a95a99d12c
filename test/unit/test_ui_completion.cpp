#include "core/error.hpp"
#include "core/process.hpp"
#include "ui/completion.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace fedi;
using namespace fedi::ui;

namespace {

CompletionCommand sample_tree() {
    CompletionCommand root{"tool", "a tool", {}, {}};
    root.options.push_back({{"-f", "--file"}, "a file", true, {}});
    root.options.push_back({{"--color"}, "colour", true, {"auto", "never"}});
    root.options.push_back({{"--json"}, "json", false, {}});
    CompletionCommand run{"run", "runs it", {{{"--fast"}, "fast", false, {}}}, {}};
    CompletionCommand key{"key", "keys", {}, {}};
    key.subcommands.push_back({"create", "makes one", {{{"--read"}, "r", false, {}}}, {}});
    key.subcommands.push_back({"delete", "removes one", {}, {}});
    CompletionCommand shell{"shell", "a shell", {}, {}, {"bash", "fish"}};
    root.subcommands = {run, key, shell};
    return root;
}

// What the generated bash function offers for `tool WORDS...` (the last one being typed).
std::vector<std::string> bash_offers(const std::vector<std::string>& words) {
    auto path = std::filesystem::temp_directory_path() / "fedi-unit-completion.bash";
    std::ofstream(path) << completion_script(sample_tree(), "bash");
    std::string quoted = "tool";
    for (const auto& w : words)
        quoted += " '" + w + "'";
    auto r = run_process({"bash", "-c",
                          "source \"$1\"; COMP_WORDS=(" + quoted +
                              "); COMP_CWORD=" + std::to_string(words.size()) +
                              "; _tool; printf '%s\\n' \"${COMPREPLY[@]}\"",
                          "complete", path.string()});
    std::filesystem::remove(path);
    REQUIRE(r.ok());
    std::vector<std::string> out;
    std::size_t pos = 0, nl;
    while ((nl = r.out.find('\n', pos)) != std::string::npos) {
        if (nl > pos)
            out.push_back(r.out.substr(pos, nl - pos));
        pos = nl + 1;
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST_CASE("bash completion offers the subcommands and options of the path typed so far") {
    using V = std::vector<std::string>;
    CHECK(bash_offers({""}) == V{"key", "run", "shell"});
    CHECK(bash_offers({"shell", ""}) == V{"bash", "fish"});
    CHECK(bash_offers({"key", ""}) == V{"create", "delete"});
    CHECK(bash_offers({"run", "--"}) == V{"--color", "--fast", "--file", "--json"});
    // Options of a command above are valid below it; a subcommand's are not above it.
    CHECK(bash_offers({"key", "create", "--"}) == V{"--color", "--file", "--json", "--read"});
    CHECK(bash_offers({"--"}) == V{"--color", "--file", "--json"});
    // An option's value is not taken for a subcommand; fixed choices are offered.
    CHECK(bash_offers({"--file", "key", ""}) == V{"key", "run", "shell"});
    CHECK(bash_offers({"run", "--color", ""}) == V{"auto", "never"});
}

TEST_CASE("zsh and fish scripts list every command and option of the tree") {
    auto zsh = completion_script(sample_tree(), "zsh");
    CHECK(zsh.rfind("#compdef tool\n", 0) == 0);
    CHECK(zsh.find("'key') reply=('create:makes one' 'delete:removes one')") != std::string::npos);
    auto fish = completion_script(sample_tree(), "fish");
    CHECK(fish.find("complete -c tool -f -n '__tool_path_is \"key\"' -a create -d 'makes one'") !=
          std::string::npos);
    CHECK(fish.find("complete -c tool -n '__tool_path_is \"key create\"' -l read -d 'r'") !=
          std::string::npos);
    CHECK(fish.find("-s f -l file -r") != std::string::npos);
    CHECK(fish.find("-l color -x -a 'auto never'") != std::string::npos);
    CHECK(fish.find("complete -c tool -f -n '__tool_path_is \"shell\"' -a 'bash fish'") !=
          std::string::npos);
}

TEST_CASE("completion_script refuses a shell it does not know, naming it") {
    try {
        completion_script(sample_tree(), "tcsh");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        CHECK(std::string(e.what()).find("tcsh") != std::string::npos);
    }
}
