"""Snapshots: ids, metadata, and taking, listing and deleting them.

Id: ``<UTC timestamp>_<label>`` as ArangoDB's hot backups do it (``2026-11-22T14.20.15Z_nightly``),
a UUID when no label is given. A snapshot is ``<home>/<id>/`` holding ``backup.json``,
``objects.jsonl`` (each object's recorded head, rootstate/: the changes over a base,
``objects.base.sqlite``, linked from the snapshot that wrote it), ``index.sqlite`` (or, built on
an older base, ``index.base.sqlite``: that base's index, linked) and ``ocfl-root/``. A local
snapshot's ``ocfl-root/`` holds only the root's own files: its objects are read where they are,
in the live root, or in the retention generations where purges and restores move them
(repository/local/retention.py), like a copy-on-write filesystem snapshot. Downloaded, crawled
and older snapshots hold the whole tree. A snapshot is built in a locked ``.tmp-*`` staging dir
and renamed into place, so a killed backup never appears in a listing and its debris is removed
by the next run.
"""

from fcrctl.services.backup.snapshot.home import BackupHome, Snapshottable, home_for, write_meta
from fcrctl.services.backup.snapshot.index_delta import INDEX_BASE_KEY, INDEX_BLOBS, INDEX_DELTA, INDEX_DELTA_KEY
from fcrctl.services.backup.snapshot.info import (
    AS_FOUND_KEY,
    EPOCH_KEY,
    INDEX,
    INDEX_BASE,
    INDEX_KEY,
    JOURNAL_KEY,
    LINKED,
    META,
    TREE,
    BackupInfo,
    check_id,
    check_label,
    make_id,
    unique_id,
)
from fcrctl.services.backup.snapshot.recording import copy_own, count_resources
from fcrctl.services.backup.snapshot.taking import iter_ids, take

__all__ = ["AS_FOUND_KEY", "EPOCH_KEY", "INDEX", "INDEX_BASE", "INDEX_BASE_KEY", "INDEX_BLOBS", "INDEX_DELTA",
           "INDEX_DELTA_KEY", "INDEX_KEY", "JOURNAL_KEY", "LINKED", "META", "TREE",
           "BackupHome", "BackupInfo", "Snapshottable", "check_id", "check_label", "copy_own", "count_resources",
           "home_for", "iter_ids", "make_id", "take", "unique_id", "write_meta"]
