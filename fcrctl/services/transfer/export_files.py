"""Where an export's files go: each resource's file name, directories made once, atomic writes

Names follow layout.py (fcrepo-import-export's: the URL path, each segment encoded as Java's
URLEncoder does). An export writes two or more files a resource, so what can be remembered is:
a container's encoded name (its children's names are it plus one segment) and the directories
already made; both are forgotten past a bound, so memory stays flat however big the export.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fcrctl.services.transfer import layout

_CACHED = 4096  # directories and names remembered; more are forgotten, so memory stays flat


class ExportFiles:
    """The export directory ``dest`` of resources whose URLs start with ``base_url``."""

    def __init__(self, dest: Path, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._dest = os.fspath(dest)
        self._dirs: set[str] = set()  # directories known to exist
        self._names: dict[str, str] = {}  # a container's path -> its file name (see name)
        self._plain_base = "?" not in self.base_url and "#" not in self.base_url

    def url(self, path: str) -> str:
        return self.base_url + ("/" if path == "/" else path)

    def file(self, path: str, ext: str, *suffix: str) -> Path:
        return Path(self.target(path, ext, *suffix))

    def target(self, path: str, ext: str, *suffix: str) -> str:
        """``file`` as a string, for the files written once per resource (pathlib's objects cost more)."""
        name = self.name(path)
        for part in suffix:
            name += "/" + part
        return f"{self._dest}/{name}{ext}"

    def name(self, path: str) -> str:
        """``encode_url_path`` of the resource's URL path, its parent's part looked up (each
        resource's name encoded whole cost as much as writing its files)."""
        if "?" in path or "#" in path or not self._plain_base:  # urlsplit would cut the URL there
            return layout.encode_url_path(urlsplit(self.url(path)).path)
        parent, _, last = path.rpartition("/")
        head = self._names.get(parent)
        if head is None:
            head = layout.encode_url_path(urlsplit(self.url(parent or "/")).path)
            if len(self._names) >= _CACHED:
                self._names.clear()
            self._names[parent] = head
        tail = layout.encode_segment(unquote(last)) if last else ""
        return f"{head}/{tail}" if head and tail else head or tail

    def write(self, target: str | Path, data: bytes | Iterable[bytes]) -> None:
        target = os.fspath(target)
        self.mkdir(os.path.dirname(target))
        layout.write_atomic(target, data, parents=False)

    def write_headers(self, target: str | Path, headers: dict[str, list[str]]) -> None:
        target = os.fspath(target)
        self.mkdir(os.path.dirname(target))
        layout.write_headers(target, headers, parents=False)

    def open(self, target: str) -> layout.AtomicFile:
        self.mkdir(os.path.dirname(target))
        return layout.AtomicFile(target, parents=False)

    def mkdir(self, directory: str) -> None:
        if directory not in self._dirs:
            os.makedirs(directory, exist_ok=True)
            if len(self._dirs) >= _CACHED:  # forgotten directories are only made again (exist_ok)
                self._dirs.clear()
            self._dirs.add(directory)
