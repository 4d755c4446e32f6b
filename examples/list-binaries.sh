#!/usr/bin/env bash
# Scripting with exit codes and JSON: show every binary under a path with its size and sha256.
# Usage: examples/list-binaries.sh [PATH]   (uses FCRCTL_REPO or the default repository)
set -euo pipefail
root="${1:-/}"
fcrctl --json ls -R "$root" | while IFS= read -r line; do
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.get("size") is not None and print(d["path"], d["size"], d.get("digests", {}).get("sha256", "-"))' "$line"
done
status=0
fcrctl info /does-not-exist >/dev/null 2>&1 || status=$?
[ "$status" -eq 4 ] && echo "exit code 4 means: no such resource"
