# A closure of incompressible blobs for bench/push_bench.py, built without nixpkgs
# (builder: the build machine's /bin/sh; needs sandbox = false and openssl on /usr/bin).
#
#   import ./blobs.nix { name = "large"; paths = 8; bytesEach = 64000000; }
#
# The root is a small directory linking `paths` blob files of `bytesEach` bytes each;
# with switchable = true it also has a no-op bin/switch-to-configuration, so that fedi
# takes it for a system (it checks that before it sends anything, even for --goal push).
# The content is AES-128-CTR keystream keyed by seed and index: deterministic (the same
# arguments give the same store paths, built once per machine) and incompressible.
{ name
, paths
, bytesEach
, seed ? "fedi-bench-1"
, switchable ? false
, system ? builtins.currentSystem or "x86_64-linux"
}:
let
  build = drvName: script: env: derivation ({
    name = drvName;
    inherit system;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
  } // env);

  blob = index: build "fedi-bench-blob-${name}-${toString index}" ''
    set -e
    openssl enc -aes-128-ctr -pbkdf2 -nosalt -pass "pass:$seed-$index" < /dev/zero 2>/dev/null \
      | head -c "$bytes" > $out
    [ "$(wc -c < $out)" = "$bytes" ]
  '' { inherit seed; index = toString index; bytes = toString bytesEach; };
in
build "fedi-bench-${name}" ''
  set -e
  mkdir -p $out
  i=0
  for b in $blobs; do ln -s $b $out/blob-$i; i=$((i + 1)); done
  if [ -n "$switchable" ]; then
    mkdir $out/bin
    printf '#!/bin/sh\nexit 0\n' > $out/bin/switch-to-configuration
    chmod +x $out/bin/switch-to-configuration
  fi
'' { blobs = builtins.genList blob paths; switchable = if switchable then "1" else ""; }
