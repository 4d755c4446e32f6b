"""The recorded state of an OCFL storage root, where its objects are, and trees linked from it.

A snapshot is taken in steps so that the writer lock is held only for a stat per object:

1. ``scan`` (no lock): walk the root once; for every object stat its root ``inventory.json``,
   then read it (head version, id, sha512). Stat before read: a replacement in between shows
   as a changed stat in step 2.
2. ``settle`` (writer lock held): the objects the index knows now plus those seen in step 1,
   each inventory re-stat'ed. A commit replaces an inventory by rename (a new inode), so only
   objects whose stat changed are read again; purged ones drop out. The result is the state
   of the repository at that instant.
3. Nothing more is needed: OCFL versions never change once written, so ``v1..head`` of each
   object, with ``v{head}/inventory.json`` as its root inventory, *is* the recorded state,
   whatever commits happen afterwards. :class:`Sources` finds each object (the live root, or
   the retention generation a purge or restore moved it to); ``link`` builds a tree of hard
   links from them when one is needed (a restore). An object no source holds with its
   recorded inventory raises :class:`StateMoved`.

With the repository's change journal (index.py), step 1 is skipped and step 2 looks only at
the objects journaled since the newest snapshot (``settle_changed``); see snapshot/recording.py.

The state is saved beside the snapshot (``objects.jsonl``, as a base plus the changes since it:
stored.py): uploads read each object's inventory digest from it instead of walking the tree.
"""

from fcrctl.services.backup.rootstate.linking import LinkCount, copy_tree, link, object_files
from fcrctl.services.backup.rootstate.scanning import read_changed, root_files, scan, settle, settle_changed
from fcrctl.services.backup.rootstate.sources import Sources
from fcrctl.services.backup.rootstate.state import STATE_FILE, Damaged, ObjectState, RootState, Stamp, StateMoved
from fcrctl.services.backup.rootstate.stored import BASE_FILE, DeltaState

__all__ = ["BASE_FILE", "STATE_FILE", "Damaged", "DeltaState", "LinkCount", "ObjectState", "RootState", "Sources",
           "Stamp", "StateMoved", "copy_tree", "link", "object_files", "read_changed", "root_files", "scan", "settle",
           "settle_changed"]
