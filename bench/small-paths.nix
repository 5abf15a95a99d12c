# Many small store paths for bench/push_bench.py, built in one builder run (a derivation
# with one output per path: building thousands of one-path derivations takes minutes).
# Builder: the build machine's /bin/sh (sandbox = false), no nixpkgs.
#
#   import ./small-paths.nix { count = 3000; size = 4096; }
#
# Outputs p0 .. p<count-1>: a file of about `size` bytes each, distinct contents; `out`
# (the root) lists them in out/paths (so refers to each): its closure is count + 1 paths.
# Shell builtins only in the loop: a fork per path would cost more than the rest.
{ count
, size ? 4096
, seed ? "fedi-bench-1"
, system ? builtins.currentSystem or "x86_64-linux"
}:
let
  names = builtins.genList (i: "p${toString i}") count;
in
derivation {
  name = "fedi-bench-small-${toString count}";
  inherit system seed;
  builder = "/bin/sh";
  outputs = [ "out" ] ++ names;
  size = toString size;
  PATH = "/usr/bin:/bin";
  args = [ "-c" ''
    set -e
    mkdir -p $out
    filler=$(yes "$seed" | head -c "$size")
    for o in $outputs; do
      [ "$o" = out ] && continue
      eval "dest=\$$o"
      printf '%s\n%s\n' "$o" "$filler" > "$dest"
      printf '%s\n' "$dest" >> $out/paths
    done
  '' ];
}
