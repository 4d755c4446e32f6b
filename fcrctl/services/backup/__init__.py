"""Backups: snapshots, restore, verification, retention, and backup stores.

A *snapshot* is a directory ``<home>/<id>/`` holding ``backup.json`` (its metadata) and
``ocfl-root/`` (a Fedora 6 OCFL storage root). ``home`` is ``REPO/backups`` for a local
repository, and a per-server directory under ``$XDG_DATA_HOME/fcrctl/backups`` for a remote one
(see :func:`fcrctl.services.backup.snapshot.home_for`).

Modules: ``snapshot`` (ids, metadata, taking/listing/deleting local snapshots), ``restore``
(fail-safe, atomic swap, partial restore), ``crawl`` (remote backups and replay over the
Repository protocol), ``manifest`` (upload/download to a :mod:`stores` store), ``verify``,
``prune`` (retention), ``server_side`` (fcr:backup / fcr:restore, both ends).
"""
