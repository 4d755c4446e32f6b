#!/bin/sh
# Nightly backup with retention, for cron or the systemd timer beside this file.
# Exits non-zero (so cron mails / systemd marks the unit failed) when anything went wrong:
# 11 lock timeout, 8 corruption found, 3 partial failure, see `man fcrctl`.
#
#   15 2 * * *  FCRCTL_REPO=/srv/fcrepo STORE=/mnt/backup/fcrepo /usr/local/bin/cron-backup.sh
set -eu
: "${FCRCTL_REPO:?set FCRCTL_REPO to the repository path or URL}"
: "${STORE:?set STORE to the backup store directory}"
export FCRCTL_REPO

# a consistent snapshot (the writer lock is held only while the tree is linked), sent to the store
fcrctl --quiet backup --label nightly --lock-timeout 600 --to "$STORE" --json > /dev/null
# retention, locally and in the store (the newest backup is never removed)
fcrctl --quiet prune-backups --keep-last 3 --keep-daily 7 --keep-weekly 5 --keep-monthly 12 > /dev/null
fcrctl --quiet prune-backups --from "$STORE" --keep-daily 14 --keep-weekly 8 --keep-monthly 24 > /dev/null
# re-read what the store holds for the newest backup: bit rot is found before it is needed
newest=$(fcrctl list-backups --from "$STORE" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
fcrctl --quiet verify-backup "$newest" --from "$STORE" --read-data > /dev/null
