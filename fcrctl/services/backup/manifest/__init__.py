"""Snapshots in a backup store: content-addressed zstd blobs plus one manifest per backup.

Store keys (documented in docs/backup-store.md; manifests of format 2 may hold only the changes
since a base manifest, resolved by every reader: chain.py):
  blobs/<sha512[:2]>/<sha512>        zstd frame of one file's bytes, keyed by the sha512 of
                                     the uncompressed bytes (the digest OCFL inventories hold)
  manifests/<id>.jsonl.zst           zstd-compressed JSON lines:
     {"format": "fcrctl-backup-manifest", "version": 2, "backup": {...backup.json...}, "lines": ..., ...}
     {"o": "<object dir>", "id": "<object id>", "f": [[rel, sha512], [rel, null, "<inline text>"], ...]}
     ...
     {"end": true, "objects": N, "files": M}

Content digests come from the OCFL inventories (and inventory digests from their sidecars),
so an unchanged file is never read, hashed or sent twice. Every blob is hashed while it is
compressed and refused if it disagrees with its key; downloads hash while they decompress.
The manifest is written last, after the blobs are durable: a killed upload leaves blobs that
the next run reuses, and no manifest.

Threads (CPU-bound on a local store, so one worker per core): the upload walks, describes and
reads on one thread, where the Python per file is, and leaves hashing and compressing, C calls
that release the GIL, to the workers (four threads each doing Python per file spent most of
their time handing the GIL around). The download gives each worker whole objects, whose files
it creates relative to the object's directory.
"""


from fcrctl.services.backup.manifest.deletes import delete_from_store
from fcrctl.services.backup.manifest.downloads import download, download_into, read_blob
from fcrctl.services.backup.manifest.format import TransferReport
from fcrctl.services.backup.manifest.reading import list_store, read_manifest
from fcrctl.services.backup.manifest.uploads import upload
from fcrctl.services.backup.snapshot import META

__all__ = ["META", "upload", "download", "download_into", "read_manifest", "list_store", "read_blob",
           "delete_from_store", "TransferReport"]
