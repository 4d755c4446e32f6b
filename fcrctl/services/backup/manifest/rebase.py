"""Removing a chain's full manifest: the newest backup built on it becomes the full one, and every
other backup built on it a delta on that one (issue 14).

Folding a removed full manifest into its oldest successor made that successor whole, and so the
oldest backup again: a nightly prune that removes the oldest backup then rewrote a whole manifest
every night (each successor in turn). Here the one rewritten whole is the newest backup whose
chain passes through the removed full manifest F, and every other such backup is rewritten as
the difference between its state and that newest one's: the objects any link above F names (what
changed since F, small), each line its own state's, a ``gone`` line where only the newest has the
object. Nightly prunes then remove deltas (O(their lines)) until that newest backup is the oldest:
one whole rewrite per retention window, not per night.

Every rewrite keeps the backup's state (what it resolves to) and its id, and adds its old lines'
sha256 to ``was``, so manifests built on it still resolve: a delete killed between any two puts
leaves every backup restorable, and F is deleted by the caller only after all of them. Memory:
the lines of the deltas above F and F's lines for the objects they name (what changed since F).
"""

from __future__ import annotations

from fcrctl.errors import CorruptData, FcrctlError
from fcrctl.services.backup.manifest import chain
from fcrctl.services.backup.manifest.format import VERSION, line, manifest_key
from fcrctl.services.backup.manifest.writer import ManifestWriter
from fcrctl.services.backup.snapshot import BackupInfo
from fcrctl.services.backup.stores.base import BackupStore

Own = dict[str, tuple[bool, bytes]]


def onto_newest(store: BackupStore, full_id: str, removing: set[str]) -> None:
    """Rewrite the backups that stay and are built (through any links) on the full manifest
    ``full_id`` so that none needs it or a removed link any more (see the module)."""
    from fcrctl.services.backup.manifest.deletes import fold

    built: list[list[chain.Link]] = []  # each: the backup, newest first, down to (not with) the full one
    for key in store.list("manifests/"):
        name = key.rsplit("/", 1)[-1]
        backup_id = name[: -len(".jsonl.zst")]
        if not name.endswith(".jsonl.zst") or backup_id in removing:
            continue
        try:
            head = chain.read_head(store, backup_id)
        except FcrctlError:
            continue  # not a backup this can read: nothing of it is changed
        if head.base is None:
            continue
        try:
            links = chain.resolve(store, backup_id)
        except CorruptData as e:
            raise CorruptData(f"backup {backup_id} is stored as changes to a backup being deleted, and cannot "
                              f"be rewritten without it: {e.message}; nothing was deleted") from None
        ids = [link.id for link in links]
        if full_id in ids:
            built.append(links[:ids.index(full_id)])
    if not built:
        return
    own: dict[str, Own] = {}
    for links in built:
        for link in links:
            if link.id not in own:
                own[link.id] = {rel: (gone, text) for rel, gone, text in chain.link_lines(store, link, ordered=True)}
    named = {rel for lines in own.values() for rel in lines}
    full = chain.read_head(store, full_id)
    at_full = {rel: text for rel, gone, text in chain.link_lines(store, full, ordered=full.chained)
               if rel in named and not gone}

    def state(links: list[chain.Link], rel: str) -> bytes | None:
        for link in links:
            found = own[link.id].get(rel)
            if found is not None:
                return None if found[0] else found[1]
        return at_full.get(rel)

    def when(links: list[chain.Link]) -> tuple[str, str]:
        info = BackupInfo.from_json(links[0].head["backup"])
        return (str(info.datetime), info.id)

    newest = max(built, key=when)
    fold(store, newest[0], {link.id for link in newest[1:]} | {full_id})  # whole: it needed all of them
    base = chain.read_head(store, newest[0].id)
    order = sorted(named, key=lambda rel: (rel == "", rel))  # directory order, the root's line last
    for links in built:
        if links is newest:
            continue
        _rewrite(store, links[0], base, [(rel, state(links, rel), state(newest, rel)) for rel in order])


def _rewrite(store: BackupStore, backup: chain.Link, base: chain.Link,
             lines: list[tuple[str, bytes | None, bytes | None]]) -> None:
    from fcrctl.services.backup.manifest.deletes import _files

    head = {"format": backup.head["format"], "version": VERSION, "backup": backup.head["backup"]}
    was = backup.head.get("was")
    head["was"] = [*(was if isinstance(was, list) else []), backup.lines_sha256]
    writer = ManifestWriter(head)
    objects = files = 0
    for rel, mine, theirs in lines:
        if rel and mine == theirs:
            continue
        if mine is None:
            if rel:
                writer.add_line(line({"o": rel, "gone": True}))
            continue
        writer.add_line(mine)
        objects += 1 if rel else 0
        files += _files(mine)
    writer.header["base"] = {"id": base.id, "linesSha256": base.lines_sha256}
    writer.header["chain"] = {"depth": 1, "changed": writer.count,
                              "full": base.chain_field("full") or int(base.head.get("lines", {}).get("count", 0))}
    store.put(manifest_key(backup.id), iter([writer.finish(objects, files)]))
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()
