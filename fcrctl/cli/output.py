"""The output layer: everything a command shows goes through a :class:`Printer`.

Results go to stdout (rich tables for people, one JSON document -- or JSON lines for streams --
with ``--json``); notes, warnings and errors go to stderr. Progress bars appear only when stderr
is a terminal and ``--json`` is off. rich and tqdm are imported on first use, so commands that
print a path or stream bytes never pay for them. Tests pass their own streams.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from fcrctl.cli.progress import ProgressReader, remaining
from fcrctl.errors import BadInput, FcrctlError
from fcrctl.repository.base import (
    BASIC_CONTAINER,
    DIRECT_CONTAINER,
    INDIRECT_CONTAINER,
    NON_RDF_DESCRIPTION,
    NON_RDF_SOURCE,
    ResourceInfo,
    Version,
)

if TYPE_CHECKING:
    from rich.console import Console

CHUNK = 1 << 20
PROGRESS_DELAY = 2.0  # seconds a transfer runs before its progress bar appears
MODEL_SHORT = {
    BASIC_CONTAINER: "container",
    DIRECT_CONTAINER: "direct",
    INDIRECT_CONTAINER: "indirect",
    NON_RDF_SOURCE: "binary",
    NON_RDF_DESCRIPTION: "description",
}
PREFIXES = {"http://www.w3.org/ns/ldp#": "ldp:", "http://fedora.info/definitions/v4/repository#": "fedora:"}


def model_short(model: str) -> str:
    return MODEL_SHORT.get(model, model)


def model_curie(model: str) -> str:
    for ns, prefix in PREFIXES.items():
        if model.startswith(ns):
            return prefix + model[len(ns) :]
    return model


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def etag(info: ResourceInfo) -> str:
    """The ETag as HTTP writes it, whichever backend: weak for RDF sources, strong for binaries
    (as Fedora and serve send them), so output never depends on the backend and --if-match takes it."""
    tag = info.etag
    if not tag or tag.startswith(('"', 'W/"')):
        return tag
    return f'"{tag}"' if info.is_binary else f'W/"{tag}"'


def resource_json(info: ResourceInfo) -> dict[str, Any]:
    doc = info.to_json()
    if "etag" in doc:
        doc["etag"] = etag(info)
    return doc


class Printer:
    """Writes results to ``stdout`` and diagnostics to ``stderr`` (text streams with ``.buffer``)."""

    def __init__(
        self,
        *,
        json_mode: bool = False,
        quiet: bool = False,
        verbose: int = 0,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.verbose = verbose
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self._console: Console | None = None

    # -- plumbing ----------------------------------------------------------------
    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            # Off a terminal rich would wrap at 80 columns; a wide width keeps each table row on
            # one line for grep and cut (tables never expand, so this does not pad them).
            terminal = _isatty(self.stdout)
            # NO_COLOR (no-color.org) means no escapes at all: rich alone would still print bold.
            plain = os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb"
            self._console = Console(
                file=self.stdout,
                highlight=False,
                width=None if terminal else 10_000,
                color_system=None if plain else "auto",
            )
        return self._console

    def line(self, text: str) -> None:
        self.stdout.write(_utf8(text) + "\n")

    def json(self, document: Any) -> None:
        """One JSON document per line: a whole result, or one item of a stream."""
        self.stdout.write(_utf8(json.dumps(document, ensure_ascii=False, default=str)) + "\n")

    def note(self, text: str) -> None:
        """A human confirmation or hint on stderr; silent with -q or --json."""
        if not self.quiet and not self.json_mode:
            self.stderr.write(f"fcrctl: {_utf8(text)}\n")

    def debug(self, text: str) -> None:
        if self.verbose and not self.quiet:
            self.stderr.write(f"fcrctl: {text}\n")

    def warn(self, text: str) -> None:
        self.stderr.write(f"fcrctl: warning: {_utf8(text)}\n")

    def error(self, error: FcrctlError) -> None:
        if self.json_mode:
            self.stderr.write(_utf8(json.dumps(error.to_json(), ensure_ascii=False)) + "\n")
        else:
            self.stderr.write(f"fcrctl: error: {_utf8(error.message)}\n")
        self.stderr.flush()

    # -- results -------------------------------------------------------------------
    def path(self, info: ResourceInfo, **extra: Any) -> None:
        """The result of a write: the resource's path (JSON: its info)."""
        if self.json_mode:
            self.json({**resource_json(info), **extra})
        else:
            self.line(info.path)

    def done(self, action: str, path: str) -> None:
        """The result of a write that leaves nothing to show (delete, purge)."""
        if self.json_mode:
            self.json({action: path})
        elif not self.quiet:
            self.line(f"{action} {path}")

    def info(self, info: ResourceInfo) -> None:
        if self.json_mode:
            self.json(resource_json(info))
            return
        rows: list[tuple[str, str]] = [
            ("path", info.path),
            ("model", model_curie(info.model)),
            ("etag", etag(info)),
            ("created", _when(info.created.isoformat(), info.created_by)),
            ("modified", _when(info.modified.isoformat(), info.modified_by)),
        ]
        if info.is_binary:
            rows += [("size", f"{info.size} ({human_size(info.size)})" if info.size is not None else "-")]
            rows += [("mime type", info.mime_type or "-"), ("filename", info.filename or "-")]
        rows += [(f"digest {alg}", value) for alg, value in sorted(info.digests.items())]
        if info.external_url:
            rows.append(("external", f"{info.external_url} ({info.external_handling or 'proxy'})"))
        if info.archival_group:
            rows.append(("archival group", "yes"))
        elif info.group:
            rows.append(("archival group", f"member of {info.group}"))
        if info.is_binary:
            rows.append(("described by", f"{info.path.rstrip('/')}/fcr:metadata"))
        else:
            rows.append(("children", "yes" if info.has_children else "no"))
        self.fields(rows)

    def fields(self, rows: list[tuple[str, str]]) -> None:
        """A key/value view, aligned; plain text, so ``info`` never pays for importing rich."""
        width = max(len(key) for key, _ in rows)
        for key, value in rows:
            self.line(f"{key:<{width}}  {value}")

    def table(self, rows: Iterable[tuple[str, ...]], header: tuple[str, ...] | None, *, empty: str = "") -> None:
        """A table; the first column (an id) never wraps. ``empty``: the sentence to print for no rows.

        A table wider than the terminal becomes one record per line (its cells two spaces
        apart): a wrapped id could no longer be copied, and truncating ids would be worse.
        """
        from rich import box
        from rich.table import Table

        rows = list(rows)
        if not rows and empty:
            self.note(empty)
            return
        table = Table(box=box.SIMPLE if header else None, show_header=header is not None, pad_edge=False)
        width = len(header) if header else 2
        for i, title in enumerate(header or ("",) * width):
            table.add_column(title, style="bold" if i == 0 and not header else None, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console = self.console
        if console.measure(table, options=console.options.update_width(1 << 20)).maximum > console.width:
            for row in [header] * (header is not None) + rows:
                self.line("  ".join(row))  # type: ignore[arg-type]
            return
        console.print(table)

    def listing(self, items: Iterator[ResourceInfo], *, long: bool) -> int:
        """Stream a listing: one path per line (``--long``: model, size, modified, path)."""
        count = 0
        for item in items:
            count += 1
            if self.json_mode:
                self.json(resource_json(item))
            elif long:
                size = str(item.size) if item.size is not None else "-"
                stamp = item.modified.strftime("%Y-%m-%dT%H:%M:%SZ")
                self.line(f"{model_short(item.model):<9} {size:>12}  {stamp}  {item.path}")
            else:
                self.line(item.path)
            if count == 1:  # a pipe buffers 8 KB (~800 paths): the reader sees the first at once
                self.stdout.flush()
        return count

    def versions(self, versions: list[Version]) -> None:
        if self.json_mode:
            self.json([v.to_json() for v in versions])
            return
        # the memento and label name a version alike on every backend; ids are the backend's own
        # (v3 locally, a URL segment over HTTP) and stay in --json
        rows = [(v.memento, v.created.isoformat(timespec="seconds"), v.label or "") for v in versions]
        self.table(rows, header=("version", "created", "label"))

    def version(self, version: Version) -> None:
        if self.json_mode:
            self.json(version.to_json())
        else:
            self.line(version.memento)  # names it on every backend; the id is the backend's own

    # -- bytes -----------------------------------------------------------------------
    def data(self, chunks: Iterable[bytes] | BinaryIO, *, output: Path | None, total: int | None = None) -> int:
        """Copy bytes to ``output`` (atomically: temp file + rename) or to stdout; returns bytes written."""
        if output is None or str(output) == "-":
            return self._copy(chunks, _binary_stdout(self.stdout), total)
        import tempfile

        target = output.expanduser()
        try:
            tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed into place only after a complete copy
                dir=target.parent or ".", prefix=f".{target.name}.", delete=False
            )
        except OSError as exc:
            raise BadInput(f"cannot write {output}: {exc.strerror}") from exc
        try:
            with tmp:
                written = self._copy(chunks, tmp, total)
            os.replace(tmp.name, target)
        except BaseException:
            _unlink_quietly(tmp.name)
            raise
        return written

    def _copy(self, chunks: Iterable[bytes] | BinaryIO, sink: BinaryIO, total: int | None) -> int:
        source = iter(lambda: chunks.read(CHUNK), b"") if hasattr(chunks, "read") else chunks  # type: ignore[union-attr]
        written = 0
        with self.progress(total) as advance:
            for chunk in source:
                try:
                    sink.write(chunk)
                except OSError as exc:
                    if isinstance(exc, BrokenPipeError):
                        raise
                    raise BadInput(f"cannot write output: {exc.strerror}") from exc
                written += len(chunk)
                advance(len(chunk))
        sink.flush()
        return written

    @contextmanager
    def progress(self, total: int | None) -> Iterator[Any]:
        """Yield ``advance(n)``; a tqdm bar on stderr only for people watching a terminal."""
        if self.json_mode or self.quiet or not _isatty(self.stderr):
            yield lambda n: None
            return
        from tqdm import tqdm

        # delay: the bar appears only once a transfer has taken a while, whatever its size
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=self.stderr, leave=False,
                  delay=PROGRESS_DELAY) as bar:
            yield bar.update


    @contextmanager
    def uploading(self, spec: Any) -> Iterator[None]:
        """Show a progress bar while a backend reads ``spec.content`` (a binary body being stored)."""
        stream = getattr(spec, "content", None)
        if stream is None:
            yield
            return
        with self.progress(remaining(stream)) as advance:
            spec.content = ProgressReader(stream, advance)
            try:
                yield
            finally:
                spec.content = stream


def _utf8(text: str) -> str:
    # the names.py rule: what we print is UTF-8, even a name an older fcrctl stored as it came
    if text.isascii():
        return text
    from fcrctl.names import utf8_name

    return utf8_name(text)


def _when(stamp: str, who: str | None) -> str:
    return f"{stamp} by {who}" if who else stamp


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _binary_stdout(stream: IO[str]) -> BinaryIO:
    stream.flush()
    return getattr(stream, "buffer", stream)  # type: ignore[return-value]


def _unlink_quietly(name: str) -> None:
    with suppress(OSError):
        os.unlink(name)
