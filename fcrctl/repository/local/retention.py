"""Objects leaving the storage root while a snapshot may still need them.

A local snapshot records each object's head (backup snapshot.py) and reads the object's files
from the live root afterwards: OCFL versions are never changed once written, so ``v1..head``
stays valid while the object lives. Only two things take an object's directory away: a purge,
and a restore swapping the whole root out. Once any snapshot has been taken (``DIR`` exists),
both move the directory into a *generation* ``DIR/<epoch>/<object rel>`` instead of deleting
it. The epoch is a counter bumped under the writer lock for every generation, and each snapshot
records the epoch current when its state was recorded, so a snapshot can only need the
generations numbered above its own epoch. The backup home deletes a generation once no
snapshot recorded an epoch below it (``collect``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from fcrctl.repository.local import ocfl

RETAINED = ".retained"  # under the backup home, REPO/backups
EPOCH_FILE = "epoch"


class Retention:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @property
    def active(self) -> bool:
        return self.dir.is_dir()

    def activate(self) -> None:
        """Called before a snapshot records anything: from then on nothing is deleted."""
        if not self.dir.is_dir():
            self.dir.mkdir(parents=True, exist_ok=True)
            ocfl.fsync_dir(self.dir.parent)

    def epoch(self) -> int:
        """The newest generation's number (0: none yet). Read it under the writer lock."""
        try:
            return int((self.dir / EPOCH_FILE).read_text("ascii").strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            return max(self.generations(), default=0)

    def generations(self) -> list[int]:
        try:
            return sorted(int(e.name) for e in os.scandir(self.dir) if e.name.isdigit() and e.is_dir())
        except FileNotFoundError:
            return []

    def path(self, epoch: int) -> Path:
        return self.dir / str(epoch)

    def new_generation(self) -> Path:
        """A new, empty generation for the objects one commit purges (writer lock held)."""
        gen = self.path(self._next_epoch())
        gen.mkdir()
        ocfl.fsync_dir(self.dir)
        return gen

    def raise_to(self, floor: int) -> None:
        """Make the counter at least ``floor`` (writer lock held)."""
        if self.epoch() < floor:
            ocfl.write_durable(self.dir / EPOCH_FILE, f"{floor}\n".encode())

    def _next_epoch(self) -> int:
        # durable before the generation exists, so a number is never used twice
        epoch = max(self.epoch(), max(self.generations(), default=0)) + 1
        ocfl.write_durable(self.dir / EPOCH_FILE, f"{epoch}\n".encode())
        return epoch

    def adopt(self, root: Path) -> Path:
        """A whole storage root swapped out by a restore becomes the next generation (writer
        lock held)."""
        epoch = self._next_epoch()
        os.rename(root, self.path(epoch))
        ocfl.fsync_dir(root.parent)
        ocfl.fsync_dir(self.dir)
        return self.path(epoch)

    def keep(self, obj_dir: Path, rel: str, generation: Path, tmp: Path) -> None:
        """Move a purged object's directory into ``generation`` (one rename; across filesystems
        a copy, then the original leaves the root by one rename into ``tmp``)."""
        target = generation / rel
        ocfl.ensure_dir(target.parent)
        try:
            os.rename(obj_dir, target)
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            # backups/ on another filesystem: a whole copy first, then the object goes
            partial = target.with_name(f".{target.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(obj_dir, partial)
            ocfl.sync_tree(partial)
            os.rename(partial, target)
            ocfl.fsync_dir(target.parent)  # the copy is durable before the original goes
            # one rename, not an rmtree in place: a kill part-way would leave a half-deleted
            # object that recovery rolls back to an older version and indexes again
            ocfl.remove_tree(obj_dir, tmp)  # (syncs the object's parent, drops empty ones)
            return
        ocfl.fsync_dir(obj_dir.parent)
        ocfl.fsync_dir(target.parent)

    def collect(self, needed_above: int | None) -> int:
        """Delete the generations no snapshot can need: those numbered at or below the lowest
        epoch any snapshot recorded (``needed_above``; None: no snapshot needs any)."""
        removed = 0
        for epoch in self.generations():
            if needed_above is not None and epoch > needed_above:
                continue
            trash = self.dir / f".trash-{epoch}"
            with contextlib.suppress(FileNotFoundError):
                os.rename(self.path(epoch), trash)
                shutil.rmtree(trash, ignore_errors=True)
                removed += 1
        with contextlib.suppress(OSError):
            for e in os.scandir(self.dir):
                if e.name.startswith(".trash-"):  # left by a collector that was killed
                    shutil.rmtree(e.path, ignore_errors=True)
        return removed
