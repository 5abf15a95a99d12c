# plan-probe.sh: what `fedi plan` asks a machine, in one command (read by
# parse_machine_facts in lib/plan/machine_probe.cpp). Stdin: the paths of the closure
# the machine would receive, one a line (never on the command line: it can be long).
# $system, set before this script when known: the system planned for the machine.
# Prints sections, each after a line "@@ NAME":
#   missing  the paths of stdin the machine's store lacks (what a push would send)
#   current  the closure of the running system, one path a line
#   sizes    their NAR sizes, in the same order (nix-store -q --size; Nix 2.8 has no
#            `nix path-info -S` without experimental features)
#   secrets  the secrets directory: "OWNER GROUP MODE PATH" (as secret_list_command)
#   sha256   "HASH  PATH" of each of its files, hashed here: contents never leave
# A machine that runs $system already needs one store query, not three: Nix keeps the
# closure of a valid path valid, and there is no diff to show (current stays empty).
# A failing query exits non-zero with Nix's message on stderr.
cur=$(readlink -e @CURRENT_SYSTEM@) || cur=
echo "@@ missing"
if [ -n "${system:-}" ] && [ "$cur" = "$system" ]; then
  if nix-store --check-validity "$system" 2>/dev/null; then cat >/dev/null; else cat; fi
  echo "@@ current"
else
  xargs -r nix-store --check-validity --print-invalid || exit 1
  echo "@@ current"
  if [ -n "$cur" ]; then
    closure=$(nix-store -qR "$cur") || exit 1
    printf '%s\n' "$closure"
    echo "@@ sizes"
    printf '%s\n' "$closure" | xargs -r nix-store -q --size || exit 1
  fi
fi
echo "@@ secrets"
if [ -d @SECRETS_DIR@ ]; then
  for f in @SECRETS_DIR@/*; do
    [ -f "$f" ] && stat -c '%U %G %a %n' -- "$f"
  done
  echo "@@ sha256"
  for f in @SECRETS_DIR@/*; do
    if [ -f "$f" ]; then sha256sum -- "$f" || exit 1; fi
  done
fi
exit 0
