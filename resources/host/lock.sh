#!/bin/sh
# lock.sh TIMEOUT: takes the machine's fedi lock (@LOCK_FILE@, with flock) and holds it
# for as long as its stdin stays open, so the lock lives exactly as long as fedi's
# connection: everything that changes the machine (push, secrets, activation, accounts)
# runs while a fedi holds it. A detached activation holds a lock of its own
# (ID.lock, see activate.sh) through its confirmation window, listed here once the
# machine's lock is ours, so a fedi that died mid-activation leaves it visible.
# stdin: the holder's record ("KEY=VALUE" lines: host, user, pid, command, since), an
# empty line, then nothing until fedi lets go (EOF).
# stdout, read by lib/host/machine_lock.cpp:
#   "holder KEY=VALUE": a line of the record of whoever holds it (or held it), before
#   "held" (someone holds it: waiting up to TIMEOUT seconds) or "stale" (its holder is
#   gone, killed or rebooted, without letting go: taken over);
#   "timeout": not ours within TIMEOUT seconds (exit 1);
#   "locked PID": ours (PID: this script on the machine);
#   "activation ID KEY=VALUE": a line of the record of an activation still running;
#   "ready": the end of the list; the lock is held until stdin ends.
# Only POSIX sh and flock (util-linux), which every NixOS has.
set -u
timeout=$1
lock=@LOCK_FILE@
run=@RUNTIME_DIR@
command -v flock >/dev/null || { echo "flock (util-linux) is not installed" >&2; exit 2; }
(umask 077; mkdir -p "${lock%/*}" "$run") 2>/dev/null
record=
while IFS= read -r line && [ -n "$line" ]; do
  record="$record$line
"
done
exec 9>>"$lock" || exit 2
if ! flock -n 9; then
  sed 's/^/holder /' "$lock"
  echo held
  if [ "$timeout" -le 0 ] || ! flock -w "$timeout" 9; then
    echo timeout
    exit 1
  fi
fi
# A record with no one holding the lock: its holder never let go.
if [ -s "$lock" ]; then
  sed 's/^/holder /' "$lock"
  echo stale
fi
release() { : > "$lock"; exit 0; }
trap release HUP INT TERM PIPE
printf '%skeeper=%s\n' "$record" "$$" > "$lock"
echo "locked $$"
now=$(date +%s)
for f in "$run"/*.lock; do
  [ -e "$f" ] || continue
  # Free: its activation ended (or died, which its follow says).
  flock -n "$f" true 2>/dev/null && continue
  id=${f##*/}; id=${id%.lock}
  sed "s/^/activation $id /" "$f"
  d=$(head -n 1 "$run/$id.waiting" 2>/dev/null)
  case $d in ''|*[!0-9]*) ;; *) echo "activation $id reverts-in=$((d - now))" ;; esac
done
echo ready
while IFS= read -r _; do :; done
release
