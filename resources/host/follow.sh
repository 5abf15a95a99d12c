#!/bin/sh
# follow.sh ID LINES, with a token on its first line of stdin: prints the activation's
# log from line LINES+1 on as it grows, each line framed as "| LINE", and its own records
# as "@TOKEN KIND [ARG]" (lib/host/activation_protocol.hpp): "waiting SECONDS_LEFT" once
# the machine waits for confirmation, "tick" every second, "result RESULT" (or
# "result-empty FILE") at the end, "fallback DIR" when the log is under the runtime
# directory, "unknown" when there is no such activation, "died LOG" when the activation
# ended without writing its result (killed: its lock, ID.lock, is no longer held; see
# activate.sh). Safe to run again after a dropped connection: fedi passes the number of
# lines it already has.
set -u
id=$1 n=$2
IFS= read -r token || exit 2
dir=@ACTIVATION_DIR@
run=@RUNTIME_DIR@
say() { printf '@%s %s\n' "$token" "$*"; }
where=
tries=0
# A just-started activation may not have made its log yet.
while [ -z "$where" ] && [ "$tries" -lt 10 ]; do
  if [ -e "$run/$id.log" ]; then where=$run
  elif [ -e "$dir/$id.log" ] || [ -e "$dir/$id.result" ]; then where=$dir
  else sleep 0.2; tries=$((tries + 1)); fi
done
[ -n "$where" ] || { say unknown; exit 3; }
[ "$where" = "$run" ] && say fallback "$dir"
# find_result: sets result to the activation's result file, if it wrote one.
find_result() {
  result=
  for f in "$dir/$id.result" "$run/$id.result"; do
    [ -e "$f" ] && { result=$f; break; }
  done
}
# An activation that took its lock and lets it go without a result died.
died() {
  [ -e "$run/$id.lock" ] && flock -n "$run/$id.lock" true 2>/dev/null || return 1
  find_result
  [ -z "$result" ]
}
said_waiting=0 beat=0
while :; do
  find_result
  gone=0
  [ -z "$result" ] && died && gone=1
  total=$(wc -l < "$where/$id.log" 2>/dev/null || echo 0)
  if [ "$total" -gt "$n" ]; then
    sed -n "$((n + 1)),${total}s/^/| /p" "$where/$id.log"
    n=$total
  fi
  if [ -n "$result" ]; then
    if [ -s "$result" ]; then say result "$(head -n 1 "$result")"; else say result-empty "$result"; fi
    exit 0
  fi
  [ "$gone" = 1 ] && { say died "$where/$id.log"; exit 0; }
  if [ "$said_waiting" = 0 ] && [ -s "$run/$id.waiting" ]; then
    said_waiting=1
    say waiting $(($(head -n 1 "$run/$id.waiting") - $(date +%s)))
  fi
  beat=$((beat + 1))
  [ "$beat" -ge 5 ] && { say tick; beat=0; }
  sleep 0.2
done
