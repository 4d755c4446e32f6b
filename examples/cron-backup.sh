#!/bin/sh
# Nightly backup with retention, for cron or the systemd timer beside this file.
# Exits non-zero (so cron mails / systemd marks the unit failed) when anything went wrong:
# 11 lock timeout, 8 corruption found, 3 partial failure, see `man fcrctl`.
#
# cron runs jobs with PATH=/usr/bin:/bin, where pip's fcrctl is not: name its directory in the
# crontab (or set FCRCTL=/path/to/venv/bin/fcrctl):
#
#   PATH=/usr/local/bin:/usr/bin:/bin
#   15 2 * * *  FCRCTL_REPO=/srv/fcrepo STORE=/mnt/backup/fcrepo /usr/local/bin/cron-backup.sh
set -eu
: "${FCRCTL_REPO:?set FCRCTL_REPO to the repository path or URL}"
: "${STORE:?set STORE to the backup store directory}"
export FCRCTL_REPO
FCRCTL="${FCRCTL:-fcrctl}"
if ! command -v "$FCRCTL" >/dev/null 2>&1; then
    echo "cron-backup.sh: $FCRCTL not found in PATH=$PATH: add its directory to PATH in the crontab, or set FCRCTL=/path/to/fcrctl" >&2
    exit 127
fi

# a consistent snapshot (the writer lock is held only while the tree is linked), sent to the store;
# -q prints only its id
id=$("$FCRCTL" --quiet backup --label nightly --lock-timeout 600 --to "$STORE")
# retention, locally and in the store (the newest backup is never removed)
"$FCRCTL" --quiet prune-backups --keep-last 3 --keep-daily 7 --keep-weekly 5 --keep-monthly 12 > /dev/null
"$FCRCTL" --quiet prune-backups --from "$STORE" --keep-daily 14 --keep-weekly 8 --keep-monthly 24 > /dev/null
# re-read what the store holds of tonight's backup: bit rot is found before it is needed
"$FCRCTL" --quiet verify-backup "$id" --from "$STORE" --read-data > /dev/null
