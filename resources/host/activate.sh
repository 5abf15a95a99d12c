#!/bin/sh
# activate.sh ID SYSTEM GOAL ROLLBACK(0|1) CONFIRM_SECONDS
# (GOAL "rollback": the profile's previous generation, activated with switch.)
# Runs detached (systemd-run or setsid). Sets the profile (switch, boot), runs
# switch-to-configuration, and on failure (ROLLBACK=1) puts the previous generation
# back and activates it. With CONFIRM_SECONDS > 0 (switch, test) it then writes
# ID.waiting (the time it reverts at) and waits for ID.confirm, written by fedi over a
# new SSH connection; ID.abort or no confirmation in time reverts to what ran before.
# The last act is writing ID.result (parsed by lib/host/activation_protocol.cpp):
# ok | failed RC | failed RC, rolled back | unconfirmed, rolled back |
# aborted, rolled back | ... rollback failed
# From its first act to its last it holds a lock of its own, ID.lock in the runtime
# directory (flock), holding its record (its PID, system, goal and the record of the fedi
# that started it, copied from the machine's lock): a fedi that finds it held knows the
# activation runs (lock.sh), and one that finds it free with no result knows it died
# (follow.sh). Long-running children (switch-to-configuration) do not inherit it.
# Nothing the activated system prints is read as protocol (see follow.sh).
# Only POSIX sh, coreutils and nix-env, which every NixOS has. fedi fills in the
# placeholders (a name between at signs) from its C++ constants (remote_scripts.cpp).
set -u
id=$1 system=$2 goal=$3 rollback=$4 confirm=$5
state_dir=@ACTIVATION_DIR@
dir=$state_dir
run=@RUNTIME_DIR@
profile=@SYSTEM_PROFILE@
lock=@LOCK_FILE@
(umask 077; mkdir -p "$run" "$dir" 2>/dev/null)
exec 9>"$run/$id.lock" || exit 1
flock -n 9 || exit 1
{ grep -v -e '^keeper=' -e '^activation=' "$lock" 2>/dev/null
  printf 'system=%s\ngoal=%s\nactivation-pid=%s\nstarted=%s\n' "$system" "$goal" "$$" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; } >&9
# The machine's lock names the activation its holder started.
[ -s "$lock" ] && printf 'activation=%s\n' "$id" >> "$lock"
# A full or read-only /var/lib must not hide the outcome: the log and the result go to
# the runtime directory then, and follow.sh says so.
if ! printf 'fedi: activation %s: %s %s\n' "$id" "$goal" "$system" > "$dir/$id.log" 2>/dev/null; then
  rm -f "$dir/$id.log" 2>/dev/null
  dir=$run
  printf 'fedi: activation %s: %s %s\n' "$id" "$goal" "$system" > "$dir/$id.log"
  echo "fedi: $state_dir cannot be written (full or read-only?); logging to $run" >> "$dir/$id.log"
fi
# write_result TEXT DIR: atomically, and only whole (a full disk leaves no empty file).
write_result() {
  { printf '%s\n' "$1" > "$2/$id.result.tmp" && [ -s "$2/$id.result.tmp" ] &&
    mv -f "$2/$id.result.tmp" "$2/$id.result"; } 2>/dev/null && return 0
  rm -f "$2/$id.result.tmp" 2>/dev/null
  return 1
}
finish() {
  write_result "$1" "$dir" || write_result "$1" "$run"
  rm -f "$run/$id.waiting" "$run/$id.confirm" "$run/$id.abort" "$run/$id.lock"
  exit 0
}
if [ "$goal" = rollback ]; then
  {
    echo "fedi: rolling back from $(readlink -e "$profile" 2>/dev/null)"
    nix-env -p "$profile" --rollback || finish "failed 1 (no earlier generation)"
    system=$(readlink -e "$profile")
    echo "fedi: activating $system"
    "$system/bin/switch-to-configuration" switch 9>&- || finish "failed $?"
    finish ok
  } >> "$dir/$id.log" 2>&1 < /dev/null
fi
sets_profile=0
case "$goal" in switch|boot) sets_profile=1 ;; esac
prev_link=$(readlink "$profile" 2>/dev/null || true)
prev_current=$(readlink -e @CURRENT_SYSTEM@ 2>/dev/null || true)
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
        "$prev_current/bin/switch-to-configuration" "$goal" 9>&- || ok=1
      else
        echo "fedi: no previous running system to go back to"
      fi ;;
  esac
  return $ok
}
{
  if [ "$sets_profile" = 1 ]; then
    nix-env -p "$profile" --set "$system" || finish "failed 1 (setting the profile)"
  fi
  "$system/bin/switch-to-configuration" "$goal" 9>&-
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
    deadline=$(($(date +%s) + confirm))
    if ! { printf '%s\n' "$deadline" > "$run/$id.waiting.tmp" && mv -f "$run/$id.waiting.tmp" "$run/$id.waiting"; }; then
      echo "fedi: cannot write $run/$id.waiting; no one can confirm: rolling back"
      if revert; then finish "unconfirmed, rolled back"; else finish "unconfirmed, rollback failed"; fi
    fi
    echo "fedi: waiting ${confirm}s for confirmation"
    while [ "$(date +%s)" -lt "$deadline" ]; do
      [ -e "$run/$id.confirm" ] && { echo "fedi: confirmed"; finish ok; }
      if [ -e "$run/$id.abort" ]; then
        echo "fedi: aborted: $(cat "$run/$id.abort")"
        if revert; then finish "aborted, rolled back"; else finish "aborted, rollback failed"; fi
      fi
      sleep 0.1
    done
    echo "fedi: no confirmation within ${confirm}s; rolling back"
    if revert; then finish "unconfirmed, rolled back"; else finish "unconfirmed, rollback failed"; fi
  fi
  finish ok
} >> "$dir/$id.log" 2>&1 < /dev/null
