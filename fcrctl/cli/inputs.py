"""Turning command-line values into protocol arguments: bodies, digests, conditions, ranges.

Everything here raises BadInput with a one-line message naming the option at fault.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from fcrctl import paths
from fcrctl.errors import BadInput
from fcrctl.repository.base import (
    DIGEST_ALGORITHMS,
    EXTERNAL_HANDLINGS,
    MODEL_NAMES,
    Conditions,
    RdfPrefs,
    ResourceSpec,
)

# File name extensions of the RDF syntaxes Fedora accepts (mimetypes knows none of them).
RDF_EXTENSIONS = {
    ".ttl": "text/turtle",
    ".nt": "application/n-triples",
    ".n3": "text/n3",
    ".rdf": "application/rdf+xml",
    ".owl": "application/rdf+xml",
    ".jsonld": "application/ld+json",
}
OCTET_STREAM = "application/octet-stream"
HEX = re.compile(r"[0-9a-fA-F]+")
DIGEST_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


def content_type(value: str | None, file: str | None) -> str | None:
    """The MIME type of a body: ``--content-type`` (a MIME type or an RDF format name) or a guess."""
    from fcrctl import rdf

    if value:
        return value.strip() if "/" in value else rdf.resolve_format(value)
    if file is None or file == "-":
        return None
    import mimetypes

    suffix = Path(file).suffix.lower()
    return RDF_EXTENSIONS.get(suffix) or mimetypes.guess_type(file)[0]


def is_rdf(mime: str | None) -> bool:
    from fcrctl import rdf

    return mime is not None and rdf.is_rdf_mime(mime.split(";")[0].strip())


def digests(values: list[str] | None) -> dict[str, str]:
    """``--digest sha256=HEX`` (repeatable) -> {algorithm: lowercase hex}."""
    out: dict[str, str] = {}
    for value in values or []:
        alg, sep, hexdigest = value.partition("=")
        alg = alg.strip().lower().replace("-", "")
        if not sep or not hexdigest:
            raise BadInput(f"--digest {value!r}: use ALGORITHM=HEX, e.g. sha256=9f86d0...")
        if alg not in DIGEST_ALGORITHMS:
            raise BadInput(f"--digest: unsupported algorithm {alg!r}: use one of {', '.join(DIGEST_ALGORITHMS)}")
        if not HEX.fullmatch(hexdigest) or len(hexdigest) != DIGEST_LENGTHS[alg]:
            raise BadInput(f"--digest {alg}: expected {DIGEST_LENGTHS[alg]} hex digits, got {hexdigest!r}")
        out[alg] = hexdigest.lower()
    return out


def conditions(if_match: str | None = None, if_unmodified_since: str | None = None) -> Conditions:
    return Conditions(
        if_match=if_match, if_unmodified_since=_date(if_unmodified_since) if if_unmodified_since else None
    )


def _date(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise BadInput(
                f"--if-unmodified-since {value!r}: use ISO 8601 (2024-05-01T12:00:00Z) or an HTTP date"
            ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def byte_range(value: str | None) -> tuple[int, int | None] | None:
    """``--range 0-99`` or ``100-`` -> (start, inclusive end or None)."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d*)\s*", value)
    if not match:
        raise BadInput(f"--range {value!r}: use START-END or START- (bytes, 0-based, END inclusive)")
    start, end = int(match[1]), int(match[2]) if match[2] else None
    if end is not None and end < start:
        raise BadInput(f"--range {value!r}: END is before START")
    return start, end


def prefs(omit: list[str] | None, include: list[str] | None) -> RdfPrefs:
    omitted, included = set(omit or []), set(include or [])
    for name in omitted - {"containment", "membership", "server-managed"}:
        raise BadInput(f"--omit {name!r}: use containment, membership or server-managed")
    for name in included - {"inbound", "children"}:
        raise BadInput(f"--include {name!r}: use inbound or children")
    return RdfPrefs(
        containment="containment" not in omitted,
        membership="membership" not in omitted,
        server_managed="server-managed" not in omitted,
        inbound="inbound" in included,
        embed_children="children" in included,
    )


def read_rdf(file: str, mime: str, target: str, limit: int | None = None) -> object:
    """Parse an RDF body; ``<>`` names ``target`` (a repository path). Returns an rdflib Graph."""
    from fcrctl import rdf

    with open_input(file) as fh:
        data = read_body(fh, file, limit)
    return rdf.parse(data, mime, base=paths.to_id(target), source=_source_name(file))


def read_body(fh: BinaryIO, file: str, limit: int | None = None) -> bytes:
    """All of an RDF or SPARQL body; BadInput when it is over ``limit`` bytes (refused before
    reading when the size is known): such bodies are parsed in memory, at ~80 times their size."""
    from fcrctl import rdf

    limit = rdf.MAX_RDF_BYTES if limit is None else limit
    size = _size_of(fh)
    if size is not None and size > limit:
        raise _too_big(file, f"{size} bytes", limit)
    try:
        data = fh.read(limit + 1)
    except OSError as exc:
        raise BadInput(f"--file {file}: {exc.strerror}") from exc
    if len(data) > limit:
        raise _too_big(file, f"more than {limit} bytes", limit)
    return data


def _too_big(file: str, size: str, limit: int) -> BadInput:
    return BadInput(f"{_source_name(file)}: {size} of RDF or SPARQL is over the {limit}-byte limit "
                    "(it is parsed in memory, at ~80 times its size): raise it with --max-rdf-bytes")


def _size_of(fh: BinaryIO) -> int | None:
    import os
    import stat

    try:
        st = os.fstat(fh.fileno())
    except (OSError, ValueError, AttributeError):  # a stream without a file (tests' stdin)
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


@contextmanager
def open_input(file: str) -> Iterator[BinaryIO]:
    """A body to stream: ``-`` is stdin, anything else a file (BadInput when it can't be opened)."""
    if file == "-":
        yield sys.stdin.buffer
        return
    try:
        fh = open(file, "rb")  # noqa: SIM115 - closed below, after the caller's one protocol call
    except OSError as exc:
        raise BadInput(f"--file {file}: {exc.strerror}") from exc
    with fh:
        yield fh


def _utf8_filename(name: str | None) -> str | None:
    """The names.py rule, said out loud: a name that is not UTF-8 is stored with %XX for those bytes."""
    from fcrctl.names import utf8_name

    if name is None:
        return None
    stored = utf8_name(name)
    if stored != name:
        import logging

        logging.getLogger("fcrctl").warning(
            f"file name {stored!r} is not UTF-8: stored with %XX for its other bytes (--filename NAME chooses one)"
        )
    return stored


def _source_name(file: str) -> str:
    return "<stdin>" if file == "-" else file


@contextmanager
def resource_spec(
    target: str,
    *,
    file: str | None,
    mime: str | None,
    binary: bool = False,
    container_type: str | None = None,
    digest: list[str] | None = None,
    filename: str | None = None,
    external: str | None = None,
    handling: str | None = None,
    lenient: bool = False,
    max_rdf_bytes: int | None = None,
) -> Iterator[ResourceSpec]:
    """What ``create`` and ``put`` send: an RDF source, a binary stream, or external content.

    ``target`` is the path ``<>`` refers to in an RDF body. Binary bodies stay open (and are
    streamed by the backend) until the ``with`` block ends.
    """
    declared = digests(digest)
    if container_type is not None and container_type not in MODEL_NAMES:
        raise BadInput(f"--container-type {container_type!r}: use basic, direct or indirect")
    model = MODEL_NAMES[container_type] if container_type else None
    if external is not None:
        if file is not None:
            raise BadInput("give either --file or --external, not both")
        filename = _utf8_filename(filename)
        if handling not in EXTERNAL_HANDLINGS:
            raise BadInput(f"--handling {handling!r}: use one of {', '.join(EXTERNAL_HANDLINGS)}")
        yield ResourceSpec(
            binary=True,
            external_url=external,
            external_handling=handling,
            mime_type=mime,
            filename=filename,
            digests=declared,
        )
        return
    if file is None:
        if binary or declared:
            raise BadInput("a binary needs a body: give --file FILE (or --file - for stdin) or --external URL")
        yield ResourceSpec(model=model, lenient=lenient)
        return
    if not binary and is_rdf(mime):
        if declared:
            raise BadInput("--digest applies to binaries; add --binary to store this RDF file as a binary")
        graph = read_rdf(file, mime or "", target, max_rdf_bytes)
        yield ResourceSpec(graph=graph, model=model, lenient=lenient)  # type: ignore[arg-type]  # type: ignore[arg-type]
        return
    if model is not None:
        raise BadInput("--container-type applies to containers, but this body is stored as a binary")
    with open_input(file) as stream:
        yield ResourceSpec(
            content=stream,
            binary=True,
            mime_type=mime or OCTET_STREAM,
            filename=_utf8_filename(filename or (None if file == "-" else Path(file).name)),
            digests=declared,
            lenient=lenient,
        )
