#!/usr/bin/env bash
# Migration runbook: export from a Fedora (4, 5, 6 or fcrctl serve), import into a local fcrctl
# repository, check it, re-verify every binary, back it up, then import into another server.
#
# Usage: examples/migrate.sh SOURCE_URL TARGET_URL [WORKDIR]
#   SOURCE_URL  the Fedora to migrate from, e.g. https://old.example.org/fcrepo/rest
#   TARGET_URL  the Fedora to migrate to,   e.g. https://new.example.org/rest
#   WORKDIR     where the export, bag and local repository go (default: ./migration)
# Credentials: FCRCTL_USER / FCRCTL_PASSWORD (or ~/.netrc), never on the command line.
set -euo pipefail
source_url="$1"
target_url="$2"
work="${3:-./migration}"
mkdir -p "$work"

# 1. Export everything (binaries, versions, external-content references) as a BagIt bag, so the
#    copy in transit is checked file by file. --resume lets a cut-off export finish later.
fcrctl --repo "$source_url" export / "$work/export" --bag --bag-algorithm sha256 --jobs 4

# 2. Import into a local repository: versions become OCFL versions with their original dates.
#    A dry run first checks every file and reports what would be imported, changing nothing.
local="$work/repo"
[ -d "$local/ocfl-root" ] || fcrctl init "$local"
fcrctl --repo "$local" import "$work/export" --dry-run
fcrctl --repo "$local" import "$work/export" --verify

# 3. Structural check and fixity of everything that arrived.
fcrctl --repo "$local" check --read-data
fcrctl --repo "$local" fixity -R /

# 4. A backup of the migrated state before anything else touches it.
fcrctl --repo "$local" backup --label migrated

# 5. Into the new server: an export of the local repository, imported there. A Fedora 6 server
#    cannot take historic versions: their current states go in and the report names them.
fcrctl --repo "$local" export / "$work/local-export" --no-versions
fcrctl --repo "$target_url" import "$work/local-export" --verify --json > "$work/import-report.json"
echo "migrated: $(fcrctl --repo "$target_url" ls -R / | wc -l) resources on $target_url"
