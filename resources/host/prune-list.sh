# prune-list.sh: what `--keep-generations` may remove and what it must keep, one fact a
# line (read by parse_prune_listing in lib/host/prune.cpp): "profile LINK", "gen LINK
# SYSTEM", "running SYSTEM", "booted SYSTEM", "act done|running DIR ID".
cd @PROFILES_DIR@ 2>/dev/null && {
  echo "profile $(readlink system 2>/dev/null)"
  for l in system-*-link; do
    [ -L "$l" ] || continue
    echo "gen $l $(readlink -e "$l" 2>/dev/null)"
  done
}
echo "running $(readlink -e @CURRENT_SYSTEM@ 2>/dev/null)"
echo "booted $(readlink -e @BOOTED_SYSTEM@ 2>/dev/null)"
for d in @ACTIVATION_DIR@ @RUNTIME_DIR@; do
  for f in "$d"/*.log; do
    [ -e "$f" ] || continue
    id=${f##*/}; id=${id%.log}
    if [ -e "$d/$id.result" ]; then s=done; else s=running; fi
    echo "act $s $d $id"
  done
done
exit 0
