# secrets-sync.sh, run as the command (no arguments): reads "NAME OWNER GROUP MODE
# BASE64" lines on stdin until "." and makes the directory hold exactly those files. Each
# file is written to a temporary name, given its owner and mode, then renamed: a reader
# never sees a partial or wrongly owned secret. An owner that does not exist yet falls
# back to root and is reported as pending. Prints "written|unchanged|removed|pending NAME".
set -eu
dir=@SECRETS_DIR@
umask 077
if [ ! -d "$dir" ]; then mkdir -p "$dir"; fi
chown root:root "$dir" 2>/dev/null || true
chmod 0700 "$dir"
keep=" "
while IFS=' ' read -r name owner group mode data; do
  [ "$name" = . ] && break
  keep="$keep$name "
  tmp="$dir/.fedi-tmp-$name"
  if [ "$data" = - ]; then : > "$tmp"; else printf '%s' "$data" | base64 -d > "$tmp"; fi
  want="$owner:$group"
  if ! chown "$owner:$group" "$tmp" 2>/dev/null; then
    chown root:root "$tmp"; want=pending; echo "pending $name"
  fi
  chmod "$mode" "$tmp"
  if [ -f "$dir/$name" ] && cmp -s "$tmp" "$dir/$name" &&
     [ "$(stat -c '%u:%g %a' "$tmp")" = "$(stat -c '%u:%g %a' "$dir/$name")" ]; then
    rm -f "$tmp"; echo "unchanged $name"
  else
    mv -f "$tmp" "$dir/$name"; echo "written $name"
  fi
done
for f in "$dir"/* "$dir"/.fedi-tmp-*; do
  [ -e "$f" ] || continue
  base=${f##*/}
  case "$keep" in *" $base "*) ;; *) rm -f "$f"; case "$base" in .fedi-tmp-*) ;; *) echo "removed $base" ;; esac ;; esac
done
sync "$dir" 2>/dev/null || sync
