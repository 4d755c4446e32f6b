"""What ``fcrctl import`` reads from: an export directory, a bag directory, or a tar/zip/tar.gz
bag. Archives are unpacked into a private temp directory first, member by member, refusing
anything that would land outside it (``../``, absolute names, links, devices) and stopping when
the expanded bytes pass a bound: nothing from a bad archive reaches the repository.
"""

from __future__ import annotations

import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from fcrctl.errors import BadInput, CorruptData
from fcrctl.services.transfer import bag as bags

EXPANSION_RATIO = 100  # an archive may expand to this many times its size...
EXPANSION_FLOOR = 64 << 20  # ...or this many bytes, whichever is more
MAX_MEMBERS = 5_000_000
_CHUNK = 1 << 20


@dataclass
class Source:
    root: Path  # the export tree (a bag's data/)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)  # rel path -> {alg: hex} (bags)
    bag: bool = False
    temp: Path | None = None  # unpacked archive, removed by close()
    warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        if self.temp is not None:
            bags.remove_tree(self.temp)
            self.temp = None


def open_source(path: Path, *, jobs: int = 1, max_bytes: int | None = None) -> Source:
    """Open and check ``path``; a bag is validated (every manifest entry) before anything else."""
    if not path.exists():
        raise BadInput(f"{path} does not exist: give an export directory, a bag, or a tar/zip bag")
    if path.is_file():
        temp = Path(tempfile.mkdtemp(prefix="fcrctl-import-"))
        try:
            unpack(path, temp, max_bytes=max_bytes)
            top = _bag_root(temp)
            if top is None:
                raise BadInput(f"{path} holds no bag (no bagit.txt): an archive must be a serialised BagIt bag")
            warnings: list[str] = []
            digests = bags.validate(top, jobs=jobs, warnings=warnings)
            return Source(root=top / "data", digests=digests, bag=True, temp=temp, warnings=warnings)
        except BaseException:
            bags.remove_tree(temp)
            raise
    if bags.is_bag(path):
        warnings = []
        digests = bags.validate(path, jobs=jobs, warnings=warnings)
        return Source(root=path / "data", digests=digests, bag=True, warnings=warnings)
    return Source(root=path)


def _bag_root(temp: Path) -> Path | None:
    if bags.is_bag(temp):
        return temp
    entries = [p for p in temp.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and bags.is_bag(entries[0]):
        return entries[0]
    return None


def unpack(archive: Path, into: Path, *, max_bytes: int | None = None) -> None:
    """Unpack a tar (any compression tarfile reads) or zip archive safely into ``into``."""
    limit = max_bytes if max_bytes is not None else max(EXPANSION_FLOOR, archive.stat().st_size * EXPANSION_RATIO)
    if zipfile.is_zipfile(archive):
        _unzip(archive, into, limit)
        return
    try:
        tf = tarfile.open(archive, "r:*")  # noqa: SIM115 (closed below)
    except (tarfile.TarError, OSError) as exc:
        raise BadInput(f"{archive} is not a tar or zip archive ({exc})") from None
    written = 0
    try:
        with tf:
            for count, member in enumerate(tf):
                if count >= MAX_MEMBERS:
                    raise BadInput(f"{archive}: more than {MAX_MEMBERS} members; refusing to unpack it")
                target = _target(into, member.name, archive)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile():
                    raise BadInput(f"{archive}: member {member.name!r} is a link or device; archives of exports "
                                   "hold only files and directories")
                source = tf.extractfile(member)
                assert source is not None
                written = _copy(source, target, written, limit, archive)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CorruptData(f"{archive} is damaged ({exc}): nothing was imported") from None


def _unzip(archive: Path, into: Path, limit: int) -> None:
    written = 0
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise BadInput(f"{archive}: more than {MAX_MEMBERS} members; refusing to unpack it")
            for info in infos:
                target = _target(into, info.filename, archive)
                mode = info.external_attr >> 16
                kind = stat.S_IFMT(mode)
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    raise BadInput(f"{archive}: member {info.filename!r} is a link or device; archives of exports "
                                   "hold only files and directories")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                with zf.open(info) as source:
                    written = _copy(source, target, written, limit, archive)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorruptData(f"{archive} is damaged ({exc}): nothing was imported") from None


def _target(into: Path, name: str, archive: Path) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or name.startswith("/"):
        raise BadInput(f"{archive}: member {name!r} points outside the archive (absolute or ../): refusing it")
    return into.joinpath(*[p for p in pure.parts if p not in ("", ".")])


def _copy(source, target: Path, written: int, limit: int, archive: Path) -> int:  # type: ignore[no-untyped-def]
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise BadInput(f"{archive} expands to more than {limit} bytes (a decompression bomb?): "
                               "refusing it; nothing was imported")
            out.write(chunk)
    return written

