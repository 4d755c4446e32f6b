"""assert_valid_ocfl(root): every OCFL object under a storage root passes ocfl-py's validator.

ocfl-py 2.0.2 does not know the 0004 hashed n-tuple layout by that name, so its storage-root
verdict is ignored; objects, traversal and the root declaration are checked.
"""

from __future__ import annotations

from pathlib import Path


def assert_valid_ocfl(root: Path) -> None:
    """``root`` is an fcrctl repository dir (with ocfl-root/) or a storage root itself."""
    from ocfl import StorageRoot

    root = Path(root)
    storage = root / "ocfl-root" if (root / "ocfl-root").is_dir() else root
    assert (storage / "0=ocfl_1.1").read_text() == "ocfl_1.1\n", f"{storage}: bad 0=ocfl_1.1 declaration"
    sr = StorageRoot(str(storage))
    # ocfl-py 2.0.2 never sets spec_version from the declaration, and its traversal-error
    # messages crash without it: give it the version we just checked.
    sr.spec_version = "1.1"
    sr.validate(validate_objects=True, check_digests=True)
    problems = "\n".join(message for _, message in sr.errors)
    if sr.log is not None and sr.num_traversal_errors:
        problems += "\n" + str(sr.log)
    assert sr.num_traversal_errors == 0, f"{storage}: storage root traversal errors:\n{problems}"
    assert sr.good_objects == sr.num_objects, (
        f"{storage}: {sr.num_objects - sr.good_objects} of {sr.num_objects} OCFL objects invalid:\n{problems}"
    )
