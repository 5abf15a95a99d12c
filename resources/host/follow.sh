#!/bin/sh
# follow.sh ID LINES, with a token on its first line of stdin: prints the activation's
# log from line LINES+1 on as it grows, each line framed as "| LINE", and its own records
# as "@TOKEN KIND [ARG]" (lib/host/activation_protocol.hpp): "waiting SECONDS_LEFT" once
# the machine waits for confirmation, "tick" every second, "result RESULT" (or
# "result-empty FILE") at the end, "fallback DIR" when the log is under the runtime
# directory, "unknown" when there is no such activation. Safe to run again after a
# dropped connection: fedi passes the number of lines it already has.
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
said_waiting=0 beat=0
while :; do
  result=
  for f in "$dir/$id.result" "$run/$id.result"; do
    [ -e "$f" ] && { result=$f; break; }
  done
  total=$(wc -l < "$where/$id.log" 2>/dev/null || echo 0)
  if [ "$total" -gt "$n" ]; then
    sed -n "$((n + 1)),${total}s/^/| /p" "$where/$id.log"
    n=$total
  fi
  if [ -n "$result" ]; then
    if [ -s "$result" ]; then say result "$(head -n 1 "$result")"; else say result-empty "$result"; fi
    exit 0
  fi
  if [ "$said_waiting" = 0 ] && [ -s "$run/$id.waiting" ]; then
    said_waiting=1
    say waiting $(($(head -n 1 "$run/$id.waiting") - $(date +%s)))
  fi
  beat=$((beat + 1))
  [ "$beat" -ge 5 ] && { say tick; beat=0; }
  sleep 0.2
done
