"""BagIt around an export (the ``bagit`` library writes and checks every manifest), and the
serialised forms: tar, zip, tar.gz.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fcrctl.errors import BadInput, CorruptData
from fcrctl.services.transfer.report import Report

ALGORITHMS = ("sha1", "sha256", "sha512", "md5")
ARCHIVES = {"tar": ".tar", "zip": ".zip", "tar.gz": ".tar.gz", "tgz": ".tar.gz"}
MAX_BAG_INFO_BYTES = 1 << 20


@dataclass
class Plan:
    dest: Path
    payload: Path  # where the export is written
    bag: bool = False
    algorithms: list[str] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    archive: str | None = None


def plan(bag: bool, algorithms: list[str] | None, info_file: Path | None, archive: str | None, dest: Path,
         *, resume: bool = False) -> Plan:
    """Check the BagIt options before anything is exported."""
    if (algorithms or info_file or archive) and not bag:
        raise BadInput("--bag-algorithm, --bag-info and --archive need --bag")
    algs = [a.lower().replace("-", "") for a in (algorithms or ["sha512"])]
    unknown = [a for a in algs if a not in ALGORITHMS]
    if unknown:
        raise BadInput(f"unknown --bag-algorithm {unknown[0]!r}: use {', '.join(ALGORITHMS)}")
    if archive is not None and archive.lower() not in ARCHIVES:
        raise BadInput(f"unknown --archive {archive!r}: use tar, zip or tar.gz")
    if bag and (dest / "bagit.txt").exists():
        raise BadInput(f"{dest} is a bag already: export into a new directory")
    if bag and not resume and dest.exists() and any(dest.iterdir()):
        raise BadInput(f"{dest} is not empty: a bag is made of the whole directory; use a new one")
    info = read_bag_info(info_file) if info_file else {}
    return Plan(dest=dest, payload=dest, bag=bag, algorithms=list(dict.fromkeys(algs)), info=info,
                archive=archive.lower() if archive else None)


def read_bag_info(path: Path) -> dict[str, str]:
    """``Name: value`` lines (continuations indented), as bag-info.txt holds them."""
    try:
        if path.stat().st_size > MAX_BAG_INFO_BYTES:
            raise BadInput(f"--bag-info {path}: larger than {MAX_BAG_INFO_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--bag-info {path}: cannot read it ({exc})") from None
    info: dict[str, str] = {}
    last: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line[0] in " \t" and last is not None:
            info[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise BadInput(f"--bag-info {path}: line {number} is not 'Name: value'")
        last = name.strip()
        info[last] = value.strip()
    return info


def finish(plan: Plan, report: Report) -> None:
    """Turn the exported directory into a bag (and an archive) once the export is complete."""
    if not plan.bag:
        return
    import bagit

    info = {"Source-Organization": "fcrctl", **plan.info}
    logging.getLogger("bagit").setLevel(logging.WARNING)
    try:
        bagit.make_bag(str(plan.dest), bag_info=info, checksums=plan.algorithms)
    except (bagit.BagError, OSError) as exc:
        raise CorruptData(f"cannot make a bag of {plan.dest}: {exc}") from None
    report.note(f"bag: {plan.dest} ({', '.join(plan.algorithms)})")
    if plan.archive:
        target = archive_bag(plan.dest, plan.archive)
        report.note(f"archive: {target}")


def archive_bag(bag_dir: Path, fmt: str) -> Path:
    """``bag_dir`` as one file beside it, the bag's directory name at the top (as the Java tool writes)."""
    target = bag_dir.with_name(bag_dir.name + ARCHIVES[fmt])
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    if fmt == "zip":
        import zipfile

        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(bag_dir.rglob("*")):
                if file.is_file():
                    zf.write(file, f"{bag_dir.name}/{file.relative_to(bag_dir).as_posix()}")
    else:
        import tarfile

        with tarfile.open(tmp, "w:gz" if fmt in ("tar.gz", "tgz") else "w") as tf:
            tf.add(bag_dir, arcname=bag_dir.name)
    os.replace(tmp, target)
    return target


# -- reading --------------------------------------------------------------------------------------


def is_bag(path: Path) -> bool:
    return (path / "bagit.txt").is_file()


def validate(bag_dir: Path, *, jobs: int = 1, warnings: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Check every manifest against the payload (nothing is imported from a bad bag).

    Returns payload path (relative to ``data/``) -> {algorithm: hex} from the bag's manifests.
    A stale Payload-Oxum (the quick count in bag-info.txt) alone does not refuse a bag whose
    manifests all hold: the Java tool's own sample bags carry one. It goes to ``warnings``."""
    import bagit

    logging.getLogger("bagit").setLevel(logging.ERROR)
    try:
        bag = bagit.Bag(str(bag_dir))
        try:
            bag.validate(processes=jobs)
        except bagit.BagValidationError as exc:
            if not str(exc.message).startswith("Payload-Oxum validation failed"):
                raise
            bag.info.pop("Payload-Oxum", None)
            bag.validate(processes=jobs)  # every manifest entry, without the stale count
            if warnings is not None:
                warnings.append(f"bag {bag_dir.name}: {exc.message} (the manifests hold: imported)")
    except bagit.BagValidationError as exc:
        detail = "; ".join(str(d) for d in (exc.details or [])[:3]) or str(exc.message)
        raise CorruptData(f"bag {bag_dir} is invalid: {detail}: nothing was imported") from None
    except bagit.BagError as exc:
        raise BadInput(f"{bag_dir} is not a valid bag: {exc}: nothing was imported") from None
    digests: dict[str, dict[str, str]] = {}
    for rel, by_alg in bag.entries.items():
        if rel.startswith("data/"):
            digests[rel[5:]] = {a: h.lower() for a, h in by_alg.items() if a in ALGORITHMS}
    return digests


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
