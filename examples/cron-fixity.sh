#!/usr/bin/env bash
# Nightly fixity of a whole repository; mails the failures (cron also mails any output).
#
#   # crontab: 02:30 every night (cron's PATH is /usr/bin:/bin: name where fcrctl is, or set FCRCTL=)
#   PATH=/usr/local/bin:/usr/bin:/bin
#   30 2 * * *  FCRCTL_REPO=/srv/fedora FIXITY_MAILTO=curator@example.org /usr/local/bin/cron-fixity.sh
#
# Exit status is fcrctl's: 0 all binaries verified, 8 corruption found, others see `man fcrctl`.
# The PREMIS events of every run are kept beside the JSON report, for the audit trail.
set -uo pipefail
FCRCTL="${FCRCTL:-fcrctl}"
if ! command -v "$FCRCTL" >/dev/null 2>&1; then
    echo "cron-fixity.sh: $FCRCTL not found in PATH=$PATH: add its directory to PATH in the crontab, or set FCRCTL=/path/to/fcrctl" >&2
    exit 127
fi
reports="${FIXITY_REPORTS:-${XDG_STATE_HOME:-$HOME/.local/state}/fcrctl/fixity}"
mkdir -p "$reports"
stamp="$(date -u +%Y-%m-%dT%H.%M.%SZ)-$$"   # the pid keeps two runs in one second apart
report="$reports/$stamp.json"

"$FCRCTL" --json fixity -R / --premis "$reports/$stamp.ttl" >"$report" 2>"$report.err"
status=$?
if [ "$status" -ne 0 ]; then
    summary="fcrctl fixity failed (exit $status) on ${FCRCTL_REPO:-the default repository}: see $report"
    if [ -n "${FIXITY_MAILTO:-}" ] && command -v mail >/dev/null 2>&1; then
        cat "$report" "$report.err" | mail -s "$summary" "$FIXITY_MAILTO"
    fi
    echo "$summary" >&2
    cat "$report.err" >&2
fi
exit "$status"
