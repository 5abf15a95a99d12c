// The container provider's guarantees, with a stand-in for the container script (it
// logs each call; `exec` fails: no container runs): read() changes nothing, a stopped
// container is started again rather than made anew, and fedi never removes, starts or
// writes into a directory it cannot prove it made.
#include "core/error.hpp"
#include "model/deployment.hpp"
#include "provider/provider.hpp"

#include "model_test_util.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace fedi;
using namespace fedi::provider;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Fixture {
    fs::path top;
    fs::path log;
    model::Deployment deployment;
    std::unique_ptr<Provider> provider;
    Request request;

    Fixture() {
        char tmpl[] = "/tmp/fedi-container-test-XXXXXX";
        top = mkdtemp(tmpl);
        log = top / "script.log";
        auto script = top / "containers-script";
        std::ofstream(script)
            << "#!/bin/sh\necho \"$*\" >> '" << log.string()
            << "'\n[ \"$1\" = exec ] && exit 1\n"
               "echo '[{\"name\":\"web1\",\"host\":\"127.0.0.1\",\"port\":2222}]'\n";
        fs::permissions(script, fs::perms::owner_all);
        ::setenv("FEDI_CONTAINERS_SCRIPT", script.c_str(), 1);
        deployment = model::parse_deployment({{"providers", {{"local", {{"type", "container"}}}}},
                                              {"machines",
                                               {{"web",
                                                 {{"provision", {{"provider", "local"}}},
                                                  {"system", fedi::test::derivation("web")}}}}}},
                                             (top / "deployment.nix").string());
        const auto& m = deployment.machines.at("web");
        Context ctx;
        ctx.info = [](const std::string&) {};
        ctx.detail = [](const std::string&) {};
        ctx.state_dir = (top / ".fedi").string();
        provider =
            find_provider_type("container")->make(*deployment.providers.at("local").settings, ctx);
        request.machine = "web";
        request.settings = m.provision->settings.get();
        request.state_dir = ctx.state_dir;
        fs::create_directories(top / ".fedi" / "containers");
    }
    ~Fixture() {
        ::unsetenv("FEDI_CONTAINERS_SCRIPT");
        fs::remove_all(top);
    }
    // A container directory as fedi makes it, and its record.
    Record made(const std::string& marker_in_file, const std::string& marker_in_state) {
        auto dir = top / ".fedi" / "containers" / "web";
        fs::create_directories(dir / "web1" / "var-lib");
        std::ofstream(dir / "web1" / "var-lib" / "precious") << "data";
        std::ofstream(dir / "web1" / "ssh_host_ed25519_key") << "key";
        std::ofstream(dir / ".fedi-container") << marker_in_file << "\n";
        Record r;
        r.provider = "local";
        r.type = "container";
        r.id = "web1";
        r.complete = true;
        r.data = {{"dir", dir.string()}, {"marker", marker_in_state}};
        return r;
    }
    std::string calls() { return read_text(log); }
};

} // namespace

TEST_CASE("container: a stopped container is read without side effects and started again") {
    Fixture f;
    auto rec = f.made("abc123", "abc123");
    auto seen = f.provider->read(f.request, rec);
    REQUIRE(seen);
    CHECK(f.calls().find("stop") == std::string::npos); // only the probe ran
    CHECK(f.calls().rfind("exec", 0) == 0);
    auto plan = f.provider->diff(f.request, *seen);
    REQUIRE_FALSE(plan.changes.empty());
    CHECK(plan.changes[0].describe() == "container: stopped -> running (with its data)");
    if (::geteuid() != 0)
        return; // starting needs root
    auto updated = f.provider->update(f.request, *seen, plan);
    CHECK(f.calls().find("restart --dir") != std::string::npos);
    CHECK(f.calls().find("\nstart ") == std::string::npos); // not made anew
    CHECK(updated.outputs.port == 2222);
    CHECK(read_text(fs::path(rec.data["dir"].get<std::string>()) / "web1" / "var-lib" /
                    "precious") == "data");
}

TEST_CASE("container: a directory fedi cannot prove it made is never touched") {
    Fixture f;
    SECTION("the marker differs") {
        auto rec = f.made("abc123", "other");
        CHECK_THROWS_WITH(f.provider->read(f.request, rec), Catch::Contains("not the one state"));
        if (::geteuid() == 0)
            CHECK_THROWS_WITH(f.provider->destroy(rec), Catch::Contains("will not remove"));
    }
    SECTION("no marker recorded") {
        auto rec = f.made("abc123", "");
        CHECK_THROWS_WITH(f.provider->read(f.request, rec), Catch::Contains("no marker"));
    }
    SECTION("outside the containers directory") {
        auto victim = f.top / "victim";
        fs::create_directories(victim);
        std::ofstream(victim / ".fedi-container") << "abc123\n";
        std::ofstream(victim / "precious") << "data";
        auto rec = f.made("abc123", "abc123");
        rec.data["dir"] = victim.string();
        CHECK_THROWS_WITH(f.provider->read(f.request, rec),
                          Catch::Contains("not a directory directly inside"));
        if (::geteuid() == 0)
            CHECK_THROWS_WITH(f.provider->destroy(rec), Catch::Contains(victim.string()));
        CHECK(read_text(victim / "precious") == "data");
    }
    SECTION("through a symbolic link out of the containers directory") {
        auto victim = f.top / "victim";
        fs::create_directories(victim);
        std::ofstream(victim / ".fedi-container") << "abc123\n";
        auto link = f.top / ".fedi" / "containers" / "linked";
        fs::create_directory_symlink(victim, link);
        auto rec = f.made("abc123", "abc123");
        rec.data["dir"] = link.string();
        CHECK_THROWS_WITH(f.provider->read(f.request, rec), Catch::Contains("really"));
        CHECK(fs::exists(victim / ".fedi-container"));
    }
    CHECK(f.calls().find("stop") == std::string::npos);
    CHECK(read_text(f.top / ".fedi" / "containers" / "web" / "web1" / "var-lib" / "precious") ==
          "data");
}

TEST_CASE("container: create refuses a directory that is already there, naming it") {
    if (::geteuid() != 0)
        return; // create needs root
    Fixture f;
    auto dir = f.top / ".fedi" / "containers" / "web";
    fs::create_directories(dir);
    std::ofstream(dir / "mine") << "data";
    CHECK_THROWS_WITH(f.provider->create(f.request),
                      Catch::Contains(dir.string() + " already exists"));
    CHECK(read_text(dir / "mine") == "data");
    CHECK(f.calls().empty());
}

TEST_CASE("container: a gone directory reads as gone; destroy of a made one removes it") {
    Fixture f;
    auto rec = f.made("abc123", "abc123");
    auto gone = rec;
    gone.data["dir"] = (f.top / ".fedi" / "containers" / "nothing").string();
    CHECK_FALSE(f.provider->read(f.request, gone));
    if (::geteuid() != 0)
        return;
    f.provider->destroy(rec);
    CHECK(f.calls().find("stop --dir") != std::string::npos);
    CHECK_FALSE(fs::exists(rec.data["dir"].get<std::string>()));
}
