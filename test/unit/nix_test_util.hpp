#pragma once
// Helpers shared by the test_nix_*.cpp files: temporary directories, hex, and small
// closures built with Debian's Nix (builder /bin/sh, no nixpkgs, no substituters).
#include "core/error.hpp"
#include "core/process.hpp"
#include "temp_dir.hpp"

#include <cctype>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fedi::nix::test {

inline std::string from_hex(std::string hex) {
    std::string clean;
    for (char c : hex)
        if (!std::isspace(static_cast<unsigned char>(c)))
            clean += c;
    std::string out;
    for (std::size_t i = 0; i + 1 < clean.size(); i += 2)
        out += static_cast<char>(std::stoi(clean.substr(i, 2), nullptr, 16));
    return out;
}

inline std::string to_hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

using fedi::test::TempDir;

inline void write_file(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary);
    f << data;
    if (!f)
        throw Error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

inline ProcessResult run_ok(const std::vector<std::string>& argv, ProcessOptions opts = {}) {
    auto r = run_process(argv, opts);
    if (!r.ok())
        throw Error("command failed: " + shell_join(argv) + "\n" + r.err);
    return r;
}

// Builds `expr` (a Nix expression file's text) in `dir` with `args` (e.g. --argstr),
// keeping a GC root in `dir` (other test runs may collect garbage meanwhile); returns
// the output path.
inline std::string nix_build(const TempDir& dir, const std::string& name, const std::string& expr,
                             const std::vector<std::string>& args = {}) {
    write_file(dir / (name + ".nix"), expr);
    std::vector<std::string> argv = {"nix-build", dir / (name + ".nix"), "-o", dir / name,
                                     "--quiet"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = run_ok(argv).out;
    while (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

// The NAR of a regular, non-executable file containing "hi", written by hand from the
// format: every token is a padded string.
inline const char* hi_file_nar_hex =
    "0d00000000000000 6e69782d617263686976652d31 000000" // nix-archive-1
    "0100000000000000 2800000000000000"                  // (
    "0400000000000000 7479706500000000"                  // type
    "0700000000000000 726567756c617200"                  // regular
    "0800000000000000 636f6e74656e7473"                  // contents
    "0200000000000000 6869000000000000"                  // "hi"
    "0100000000000000 2900000000000000";                 // )

// Writing to a serve process that died must be an error, not a fatal signal.
inline void ignore_sigpipe() {
    std::signal(SIGPIPE, SIG_IGN);
}

} // namespace fedi::nix::test

namespace fedi::nix::test {

// A small closure: a <- b (directory: nested dirs, executable, empty file, symlinks,
// a self-reference) <- c-SALT (references a and b, and d when `extra` is set).
inline const char* test_closure_expr = R"nix(
{ salt ? "1", extra ? false }:
let
  mk = name: script: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" ("PATH=/usr/bin:/bin; set -e; " + script) ];
  };
  a = mk "fedi-test-a" "echo a > $out";
  b = mk "fedi-test-b" ''
    mkdir -p $out/bin $out/share/deep/er
    echo ${a} > $out/share/deep/er/ref-to-a
    printf '#!/bin/sh\necho hello\n' > $out/bin/hello
    chmod 555 $out/bin/hello
    ln -s ${a} $out/a-link
    ln -s ../bin/hello $out/share/hello-link
    : > $out/empty
    echo $out > $out/self
  '';
  d = mk "fedi-test-d" "echo d > $out";
  c = mk "fedi-test-c-${salt}"
    "mkdir $out; echo ${a} ${b} ${if extra then d else ""} > $out/refs";
in c
)nix";

} // namespace fedi::nix::test
