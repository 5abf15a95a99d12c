"""flake.nix against the rest of the tree (nixpkgs is not available here, so the flake is
never built in the tests: these checks are what keeps it from rotting).

- Every library CMake looks for (find_package, pkg_check_modules in any CMakeLists.txt)
  is in the package's buildInputs, every build tool in nativeBuildInputs, and nothing
  in buildInputs is something CMake no longer looks for.
- nixosModules has one entry per module file (resources/nixos/*.nix,
  resources/data-disks.nix), evaluated with real Nix without nixpkgs; lib stays.
"""

import json
import os
import re
import subprocess
import unittest

from fedi_testlib import SOURCE_DIR, nix_env

FLAKE = SOURCE_DIR / "flake.nix"

# The one place where CMake's names meet nixpkgs' attribute names. A lookup CMake gains
# must be added here (the test says so), and then to flake.nix.
LIBRARIES = {  # CMake package or "pkg-config:<module>" -> nixpkgs attribute (buildInputs)
    "CLI11": "cli11",
    "nlohmann_json": "nlohmann_json",
    "fmt": "fmt",
    "CURL": "curl",
    "OpenSSL": "openssl",
    "Catch2": "catch2",  # Catch2 v2 (nixpkgs' catch2_3 is v3)
    "pkg-config:libssh2": "libssh2",
    "pkg-config:ldap": "openldap",
    "pkg-config:libpq": "postgresql",  # libpq.pc (nixpkgs also has a libpq of its own lately)
    "pkg-config:liblzma": "xz",  # liblzma.pc (the binary cache's xz NARs)
    "pkg-config:libzstd": "zstd",  # libzstd.pc (the binary cache's zstd NARs)
}
TOOLS = {"Git": "git", "PkgConfig": "pkg-config", "Python3": "python3"}  # -> nativeBuildInputs
PROVIDED_BY_STDENV = {"Threads"}  # the C library's threads

PKG_CHECK_KEYWORDS = {"REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH",
                      "NO_CMAKE_ENVIRONMENT_PATH"}


def cmake_lookups(texts):
    """Names CMake looks for in the given CMakeLists texts: package names of find_package,
    "pkg-config:<module>" for each module of pkg_check_modules."""
    found = set()
    for text in texts:
        text = re.sub(r"#[^\n]*", "", text)
        for name in re.findall(r"\bfind_package\s*\(\s*([A-Za-z0-9_.+-]+)", text):
            found.add(name)
        for args in re.findall(r"\bpkg_check_modules\s*\(([^)]*)\)", text):
            words = args.split()[1:]  # the first is the variable prefix
            for word in words:
                if word not in PKG_CHECK_KEYWORDS:
                    found.add("pkg-config:" + re.split(r"[<>=]", word)[0])
    return found


def flake_list(text, attribute):
    """The pkgs.X attributes in `attribute = [ ... ];` of the flake's text."""
    m = re.search(r"\b" + attribute + r"\s*=\s*\[([^\]]*)\]", text)
    if not m:
        raise AssertionError(f"flake.nix: no '{attribute} = [ ... ]'")
    return set(re.findall(r"\bpkgs\.([A-Za-z0-9_-]+)", m.group(1)))


def drift(lookups, flake_text):
    """What differs between CMake's lookups and the flake's lists (empty: in step)."""
    problems = []
    build_inputs = flake_list(flake_text, "buildInputs")
    native = flake_list(flake_text, "nativeBuildInputs")
    for name in sorted(lookups):
        if name in PROVIDED_BY_STDENV:
            continue
        if name in TOOLS:
            if TOOLS[name] not in native:
                problems.append(f"CMake looks for {name}: pkgs.{TOOLS[name]} is not in "
                                f"nativeBuildInputs")
        elif name in LIBRARIES:
            if LIBRARIES[name] not in build_inputs:
                problems.append(f"CMake looks for {name}: pkgs.{LIBRARIES[name]} is not in "
                                f"buildInputs")
        else:
            problems.append(f"CMake looks for {name}, which test_flake.py does not know: "
                            f"add its nixpkgs attribute to LIBRARIES or TOOLS, and to flake.nix")
    wanted = {LIBRARIES[n] for n in lookups if n in LIBRARIES}
    for attr in sorted(build_inputs - wanted):
        problems.append(f"flake.nix: buildInputs has pkgs.{attr}, which CMake does not look for")
    return problems


def cmake_texts():
    texts = []
    for dirpath, dirnames, filenames in os.walk(SOURCE_DIR):
        # Not build trees (they hold copies of CMake's own modules) nor VCS data.
        dirnames[:] = [d for d in dirnames if not d.startswith(".")
                       and not os.path.exists(os.path.join(dirpath, d, "CMakeCache.txt"))]
        for f in filenames:
            if f == "CMakeLists.txt" or f.endswith(".cmake"):
                with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                    texts.append(fh.read())
    return texts


class BuildInputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.flake_text = FLAKE.read_text(encoding="utf-8")
        cls.lookups = cmake_lookups(cmake_texts())

    def test_cmake_lookups_are_found(self):
        # The parser sees what the tree has today (else the comparison proves nothing).
        self.assertTrue({"CLI11", "CURL", "OpenSSL", "pkg-config:libssh2",
                         "pkg-config:ldap"} <= self.lookups, self.lookups)

    def test_flake_and_cmake_are_in_step(self):
        self.assertEqual(drift(self.lookups, self.flake_text), [])

    def test_drift_is_reported_both_ways(self):
        without_ldap = self.flake_text.replace("pkgs.openldap", "")
        self.assertIn("CMake looks for pkg-config:ldap: pkgs.openldap is not in buildInputs",
                      drift(self.lookups, without_ldap))
        self.assertIn("flake.nix: buildInputs has pkgs.fmt, which CMake does not look for",
                      drift(self.lookups - {"fmt"}, self.flake_text))
        self.assertTrue(any("does not know" in p for p in
                            drift(self.lookups | {"ZLIB"}, self.flake_text)))

    def test_pkg_check_modules_parsing(self):
        self.assertEqual(
            cmake_lookups(["pkg_check_modules(X REQUIRED IMPORTED_TARGET foo>=1.2 bar) # baz\n"
                           "# find_package(Commented)\nfind_package( Y 2 REQUIRED)"]),
            {"pkg-config:foo", "pkg-config:bar", "Y"})


class Evaluation(unittest.TestCase):
    def nix(self, *args):
        r = subprocess.run(["nix-instantiate", *args], capture_output=True, text=True,
                           env=nix_env(), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_flake_parses(self):
        self.nix("--parse", str(FLAKE))

    def test_one_nixos_module_per_module_file(self):
        # outputs evaluated with a nixpkgs that must not be touched: modules need none.
        expr = f"""
          let
            flake = import {FLAKE};
            out = flake.outputs {{ self = out; nixpkgs = throw "nixpkgs was used"; }};
          in {{
            modules = builtins.mapAttrs (name: m: toString m) out.nixosModules;
            minimalSystem = builtins.isFunction out.lib.minimalSystem;
          }}"""
        got = json.loads(self.nix("--eval", "--strict", "--json", "--expr", expr))
        expected = {p.stem: str(p) for p in (SOURCE_DIR / "resources" / "nixos").glob("*.nix")}
        expected["data-disks"] = str(SOURCE_DIR / "resources" / "data-disks.nix")
        self.assertEqual(got["modules"], expected)
        self.assertTrue(got["minimalSystem"])


if __name__ == "__main__":
    unittest.main()
