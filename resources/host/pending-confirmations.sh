# pending-confirmations.sh: one "ID SECONDS_LEFT" line for each activation that waits for
# its confirmation now. ID.waiting holds the time (seconds since the epoch) at which the
# machine reverts; activate.sh removes it when it finishes (reverted or confirmed). One
# whose activation died (its ID.lock no longer held, see activate.sh) waits for nothing.
now=$(date +%s)
for f in @RUNTIME_DIR@/*.waiting; do
  [ -s "$f" ] || continue
  id=${f##*/}; id=${id%.waiting}
  [ -e "${f%.waiting}.lock" ] && flock -n "${f%.waiting}.lock" true 2>/dev/null && continue
  d=$(head -n 1 "$f")
  case $d in ''|*[!0-9]*) continue ;; esac
  echo "$id $((d - now))"
done
exit 0
