// The unit tests' entry point. Tests that build with Nix use `/bin/sh` builders and
// must not try the network, so the Nix options they rely on are set here for every test
// (after whatever NIX_CONFIG the caller had), never taken from /etc/nix/nix.conf.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

int main(int argc, char* argv[]) {
    std::string config;
    if (const char* existing = std::getenv("NIX_CONFIG"))
        config = std::string(existing) + "\n";
    config += "substituters =\nsandbox = false";
    setenv("NIX_CONFIG", config.c_str(), 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 0);
    return Catch::Session().run(argc, argv);
}
