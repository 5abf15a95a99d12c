# A small NixOS-like system for fedi's tests and the local example, built without
# nixpkgs: plain derivations whose builder is the build machine's /bin/sh (Nix runs with
# sandbox = false there). Deterministic: the same arguments give the same store paths.
#
#   import ./minimal-system.nix { name = "web"; }
#
# Arguments:
#   name          host name; part of the system's store name ("nixos-system-web-1")
#   message       printed on activation and kept in etc/fedi-test/message
#   version       the nixos-version file; change it to get a new system
#   fail          activation (switch, boot, test) exits 1 with a clear message
#   delay         seconds activation sleeps before it changes anything
#   breakSsh      switch/test stop the machine's sshd (a system that locks the operator
#                 out); any other system starts it again, as NixOS starts sshd.service
#   packages      names of small packages (or derivations) in sw/bin; a package's store
#                 path depends only on its name, so systems share them
#   payloadFiles  number of generated store paths (files) payload/0 .. payload/N-1,
#                 shared between systems: raising it adds new paths, keeps the others
#   payloadSize   bytes in each payload file
#   onActivate    shell commands switch/test run once the system is current: what its
#                 services would do when they start (a failure fails the activation)
#
# The output has bin/switch-to-configuration GOAL (switch|boot|test|dry-activate),
# bin/health-check, nixos-version, system, etc/, sw/bin/ and payload/. Closure: the
# system, its packages, a base library they all refer to, and the payload files.
#
# On the target, switch-to-configuration works under /var/lib/fedi-test:
#   activations.log        one line per run: "<UTC time> <goal> <out path>", plus
#                          " FAILED" when the run failed
#   current-system         (switch, test) the active system, also /run/current-system
#   boot-system            (switch, boot) the system the machine would boot
#   fail-next-activation   if it exists, the next switch/boot/test fails and removes
#                          it; its content is added to the error message
#   delay-next-activation  seconds the next activation sleeps (removed when used)
#   unhealthy              if it exists, bin/health-check fails
# dry-activate changes nothing but the log and never fails.
{ name
, message ? "fedi test system ${name}"
, version ? "1"
, fail ? false
, delay ? 0
, breakSsh ? false
, packages ? [ "hello" "greeting" ]
, payloadFiles ? 0
, payloadSize ? 4096
, onActivate ? ""
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

  base = build "fedi-test-base-1.0" ''
    set -e
    mkdir -p $out/lib
    echo "fedi test base library 1.0" > $out/lib/base.txt
  '' { };

  package = pname: build "${pname}-1.0" ''
    set -e
    mkdir -p $out/bin
    { echo '#!/bin/sh'
      echo "cat $base/lib/base.txt"
      echo "echo '$pname 1.0'"
    } > $out/bin/$pname
    chmod 0555 $out/bin/$pname
  '' { inherit base pname; };

  payload = index: build "fedi-test-payload-${toString index}" ''
    yes "fedi test payload $index" | head -c $size > $out
  '' { index = toString index; size = toString payloadSize; };

  # Runs on the target. Shell ''${...} is escaped for Nix; @out@ is filled in by the build.
  switchScript = ''
    #!/bin/sh
    # switch-to-configuration of a fedi test system (resources/minimal-system.nix)
    set -eu
    out=@out@
    goal=''${1:-}
    state=/var/lib/fedi-test
    case "$goal" in
      switch|boot|test|dry-activate) ;;
      *) echo "usage: $0 switch|boot|test|dry-activate" >&2; exit 1 ;;
    esac
    mkdir -p "$state"
    log() {
      printf '%s %s %s%s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$goal" "$out" "$1" >> "$state/activations.log"
    }
    replace() { # FILE CONTENT: atomic write
      printf '%s\n' "$2" > "$1.tmp.$$"
      mv -f "$1.tmp.$$" "$1"
    }
    echo "activating the configuration $out ($goal) on $(uname -n)..."
    echo "fedi-test: $(cat "$out/etc/fedi-test/message")" >&2
    if [ "$goal" = dry-activate ]; then
      echo "would switch to $out"
      [ ! -e "$out/etc/fedi-test/fail" ] || echo "would fail: built with fail = true" >&2
      log ""
      exit 0
    fi
    delay=$(cat "$out/etc/fedi-test/delay")
    if [ -e "$state/delay-next-activation" ]; then
      delay=$(cat "$state/delay-next-activation")
      rm -f "$state/delay-next-activation"
    fi
    if [ "$delay" != 0 ]; then
      echo "waiting $delay s before activating" >&2
      sleep "$delay"
    fi
    if [ -e "$state/fail-next-activation" ]; then
      reason=$(cat "$state/fail-next-activation")
      rm -f "$state/fail-next-activation"
      log " FAILED"
      echo "error: activation of $out failed: $state/fail-next-activation was set''${reason:+: $reason}" >&2
      exit 1
    fi
    if [ -e "$out/etc/fedi-test/fail" ]; then
      log " FAILED"
      echo "error: activation of $out failed: the system was built with fail = true" >&2
      exit 1
    fi
    case "$goal" in switch|boot)
      replace "$state/boot-system" "$out"
      echo "updated the boot entry to $out" >&2 ;;
    esac
    case "$goal" in switch|test)
      replace "$state/current-system" "$out"
      ln -sfn "$out" "/run/current-system.tmp.$$"
      mv -fT "/run/current-system.tmp.$$" /run/current-system
      echo "starting the new system's services" >&2
      # The test host's service manager (test/hosts/testhosts); absent elsewhere.
      if [ -e "$out/etc/fedi-test/break-ssh" ]; then
        echo "stopping sshd: this system breaks SSH" >&2
        [ ! -x /run/testhost/sshd-stop ] || /run/testhost/sshd-stop
      else
        [ ! -x /run/testhost/sshd-start ] || /run/testhost/sshd-start
      fi
      if [ -s "$out/etc/fedi-test/on-activate" ]; then sh "$out/etc/fedi-test/on-activate"; fi ;;
    esac
    log ""
    echo "done: $goal $out"
  '';

  healthScript = ''
    #!/bin/sh
    if [ -e /var/lib/fedi-test/unhealthy ]; then
      echo "unhealthy: $(cat /var/lib/fedi-test/unhealthy)" >&2
      exit 1
    fi
    echo "healthy: @out@"
  '';

  asPackage = p: if builtins.isString p then package p else p;
in
build "nixos-system-${name}-${version}" ''
  set -e
  mkdir -p $out/bin $out/etc/fedi-test $out/sw/bin $out/payload
  printf '%s\n' "$version" > $out/nixos-version
  printf '%s\n' "$system" > $out/system
  printf '%s\n' "$hostName" > $out/etc/hostname
  printf '%s\n' "$message" > $out/etc/fedi-test/message
  printf '%s\n' "$delay" > $out/etc/fedi-test/delay
  if [ -n "$fail" ]; then : > $out/etc/fedi-test/fail; fi
  if [ -n "$breakSsh" ]; then : > $out/etc/fedi-test/break-ssh; fi
  printf '%s' "$onActivate" > $out/etc/fedi-test/on-activate
  for p in $packages; do
    for f in $p/bin/*; do ln -s $f $out/sw/bin/; done
  done
  i=0
  for p in $payload; do ln -s $p $out/payload/$i; i=$((i + 1)); done
  printf '%s' "$switchScript" | sed "s|@out@|$out|g" > $out/bin/switch-to-configuration
  printf '%s' "$healthScript" | sed "s|@out@|$out|g" > $out/bin/health-check
  chmod 0555 $out/bin/switch-to-configuration $out/bin/health-check
'' {
  hostName = name;
  inherit message version switchScript healthScript onActivate;
  fail = if fail then "1" else "";
  breakSsh = if breakSsh then "1" else "";
  delay = toString delay;
  packages = map asPackage packages;
  payload = builtins.genList payload payloadFiles;
}
