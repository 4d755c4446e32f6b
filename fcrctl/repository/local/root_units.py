"""A storage root split into units of work of about the same number of objects, for walks
(reindex, check) whose forked workers each read a unit and send back what they found

Units are directories relative to the root, in the order a walk of the whole root meets their
objects. Splitting by top-level directory alone gave units whose size grew with the repository
(with the 0004 layout's 4,096 tops: ~2 objects each at 10k, ~24 at 100k, ~240 at 1M), and so did
each worker's result and the results queued for the writer: the walk's memory grew with the root.
"""

from __future__ import annotations

import os

from fcrctl.repository.local import ocfl

UNIT_OBJECTS = 64  # objects per unit aimed at: results of a few hundred KB, and ~0.1 ms of overhead per object
_SAMPLES = 4  # top-level directories counted to estimate the objects each holds


def units(root: str, tops: list[str], objects: int | None = None) -> list[list[str]]:
    """``tops`` as lists of directories (relative to ``root``) of about ``objects`` objects each:
    several tops to a unit in a small root, each top's subdirectories in units of their own when
    one top holds many more objects than that."""
    objects = objects or UNIT_OBJECTS
    per_top = _objects_per_top(root, tops)
    if per_top <= 2 * objects:
        size = max(1, round(objects / per_top))
        return [tops[i:i + size] for i in range(0, len(tops), size)]
    out: list[list[str]] = []
    for top in tops:
        subs = _subdirs(f"{root}/{top}")
        if subs is None:  # the top is an object itself (or unreadable: the walk reports it)
            out.append([top])
            continue
        size = max(1, round(objects / (per_top / max(1, len(subs)))))
        out.extend([f"{top}/{s}" for s in subs[i:i + size]] for i in range(0, len(subs), size))
    return out


def _objects_per_top(root: str, tops: list[str]) -> float:
    """Objects in a few tops spread over the root, on average (at least 1)."""
    if not tops:
        return 1.0
    step = max(1, len(tops) // _SAMPLES)
    sample = tops[::step][:_SAMPLES]
    found = sum(sum(1 for _ in ocfl.object_dirs(f"{root}/{top}", top)) for top in sample)
    return max(1.0, found / len(sample))


def _subdirs(path: str) -> list[str] | None:
    """A directory's subdirectories, sorted (the order object_dirs walks them in); None when it
    is an object's own directory or cannot be listed."""
    try:
        with os.scandir(path) as it:
            entries = {e.name: e.is_dir() for e in it}  # as object_dirs lists them
    except OSError:
        return None
    if any(name.startswith(ocfl.OBJECT_NAMASTE_PREFIX) for name in entries):
        return None
    return sorted(name for name, is_dir in entries.items() if is_dir)
