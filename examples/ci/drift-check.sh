#!/usr/bin/env bash
# A scheduled drift check: does the fleet still run what the deployment declares?
# Exit 0 in sync, 2 when changes are pending (plan.json says which), 1 on failure.
# `fedi plan --detailed-exitcode` exits 2 for pending changes, but 2 is also fedi's
# usage-error code (as with Terraform): a plan document on stdout tells them apart.
set -uo pipefail
fedi --state "$FEDI_STATE" --json plan --detailed-exitcode >plan.json
code=$?
if [ "$code" -eq 2 ] && ! python3 -c 'import json,sys; json.load(open("plan.json"))["schemaVersion"]' 2>/dev/null; then
    echo "fedi plan: usage or deployment-file error (see above)" >&2
    exit 1
fi
case $code in
0) echo "in sync" ;;
2) echo "drift: changes pending, see plan.json" >&2 ;;
*) echo "fedi plan failed (exit $code), see plan.json and the log above" >&2 ;;
esac
exit "$code"
