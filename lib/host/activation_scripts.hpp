#pragma once
// The shell scripts fedi installs on a machine to activate systems detached from the
// SSH session. They use only POSIX sh, coreutils and nix-env, which every NixOS has.

namespace fedi::host {

// Where activations keep their logs and results on the machine (root only).
constexpr const char* kActivationDir = "/var/lib/fedi/activations";

// activate.sh ID SYSTEM GOAL ROLLBACK(0|1) CONFIRM_SECONDS
// (GOAL "rollback": the profile's previous generation, activated with switch.)
// Runs detached (systemd-run or setsid). Sets the profile (switch, boot), runs
// switch-to-configuration, and on failure (ROLLBACK=1) puts the previous generation
// back and activates it. With CONFIRM_SECONDS > 0 (switch, test) it then waits for
// ID.confirm, written by fedi over a new SSH connection; ID.abort or no confirmation in
// time reverts to what ran before. The last act is writing ID.result:
// ok | failed RC | failed RC, rolled back | unconfirmed, rolled back |
// aborted, rolled back | ... rollback failed
constexpr const char* kActivateScript = R"sh(#!/bin/sh
set -u
id=$1 system=$2 goal=$3 rollback=$4 confirm=$5
dir=/var/lib/fedi/activations
profile=/nix/var/nix/profiles/system
finish() {
  printf '%s\n' "$1" > "$dir/$id.result.tmp"
  mv -f "$dir/$id.result.tmp" "$dir/$id.result"
  exit 0
}
if [ "$goal" = rollback ]; then
  {
    echo "fedi: rolling back from $(readlink -e "$profile" 2>/dev/null)"
    nix-env -p "$profile" --rollback || finish "failed 1 (no earlier generation)"
    system=$(readlink -e "$profile")
    echo "fedi: activating $system"
    "$system/bin/switch-to-configuration" switch || finish "failed $?"
    finish ok
  } > "$dir/$id.log" 2>&1 < /dev/null
fi
sets_profile=0
case "$goal" in switch|boot) sets_profile=1 ;; esac
prev_link=$(readlink "$profile" 2>/dev/null || true)
prev_current=$(readlink -e /run/current-system 2>/dev/null || true)
# revert: the profile back to the generation it had, and the system that ran before
# activated again. Prints what it did; returns non-zero when it could not.
revert() {
  ok=0
  if [ "$sets_profile" = 1 ]; then
    gen=${prev_link#system-}; gen=${gen%-link}
    if [ -n "$prev_link" ] && [ "$gen" != "$prev_link" ]; then
      echo "fedi: setting the profile back to generation $gen"
      nix-env -p "$profile" --switch-generation "$gen" || ok=1
    else
      echo "fedi: there was no earlier generation to set the profile back to"
    fi
  fi
  case "$goal" in
    switch|test)
      if [ -n "$prev_current" ] && [ -x "$prev_current/bin/switch-to-configuration" ]; then
        echo "fedi: activating the previous system $prev_current"
        "$prev_current/bin/switch-to-configuration" "$goal" || ok=1
      else
        echo "fedi: no previous running system to go back to"
      fi ;;
  esac
  return $ok
}
{
  echo "fedi: activation $id: $goal $system"
  if [ "$sets_profile" = 1 ]; then
    nix-env -p "$profile" --set "$system" || finish "failed 1 (setting the profile)"
  fi
  "$system/bin/switch-to-configuration" "$goal"
  rc=$?
  if [ "$rc" != 0 ]; then
    if [ "$rollback" = 1 ]; then
      echo "fedi: switch-to-configuration $goal exited with status $rc; rolling back"
      if revert; then finish "failed $rc, rolled back"; else finish "failed $rc, rollback failed"; fi
    fi
    finish "failed $rc"
  fi
  case "$goal" in switch|test) ;; *) confirm=0 ;; esac
  if [ "$confirm" -gt 0 ]; then
    echo "fedi: waiting ${confirm}s for confirmation"
    waited=0
    while [ "$waited" -lt $((confirm * 10)) ]; do
      [ -e "$dir/$id.confirm" ] && { echo "fedi: confirmed"; finish ok; }
      if [ -e "$dir/$id.abort" ]; then
        echo "fedi: aborted: $(cat "$dir/$id.abort")"
        if revert; then finish "aborted, rolled back"; else finish "aborted, rollback failed"; fi
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
    echo "fedi: no confirmation within ${confirm}s; rolling back"
    if revert; then finish "unconfirmed, rolled back"; else finish "unconfirmed, rollback failed"; fi
  fi
  finish ok
} > "$dir/$id.log" 2>&1 < /dev/null
)sh";

// follow.sh ID LINES: prints the activation's log from line LINES+1 on as it grows,
// then "@@fedi-result RESULT" once the result is there. Safe to run again after a
// dropped connection: fedi passes the number of lines it already has.
constexpr const char* kFollowScript = R"sh(#!/bin/sh
set -u
id=$1 n=$2
dir=/var/lib/fedi/activations
[ -e "$dir/$id.log" ] || [ -e "$dir/$id.result" ] || { sleep 0.5; }
[ -e "$dir/$id.log" ] || [ -e "$dir/$id.result" ] || { echo "@@fedi-unknown"; exit 3; }
while :; do
  done=0
  [ -e "$dir/$id.result" ] && done=1
  total=$(wc -l < "$dir/$id.log" 2>/dev/null || echo 0)
  if [ "$total" -gt "$n" ]; then
    sed -n "$((n + 1)),${total}p" "$dir/$id.log"
    n=$total
  fi
  if [ "$done" = 1 ]; then
    echo "@@fedi-result $(cat "$dir/$id.result")"
    exit 0
  fi
  sleep 0.2
done
)sh";

} // namespace fedi::host
