"""Exported versions (mementos) on import: finding them with their dates, and which to write

Fedora 5/6 name a memento by its date (YYYYMMDDHHMMSS), Fedora 4 by its label, whose date is
then in the TimeMap (``fcr%3Aversions.<ext>``). What is written follows fcrepo-upgrade-utils:
every memento in order, then the current state when it differs from the newest memento.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcrctl import paths, rdf
from fcrctl.errors import BadInput
from fcrctl.services.transfer import layout
from fcrctl.services.transfer.import_tree import with_rdf_ext

if TYPE_CHECKING:
    from rdflib import Graph

    from fcrctl.repository.base import ResourceSpec
    from fcrctl.services.transfer.import_read import Prepared, State

_MEMENTO = re.compile(r"\d{14}")


def mementos(owner_dir: Path, url: str, parse: Callable[..., Graph]) -> Iterator[tuple[Path, str, str, datetime]]:
    """(file, stem, extension, date) of each memento file under ``fcr%3Aversions/``."""
    vdir = owner_dir / layout.VERSIONS
    if not vdir.is_dir():
        return
    labels = _fedora4_version_dates(owner_dir, url, parse)
    for name in sorted(os.listdir(vdir)):
        full = vdir / name
        if full.is_dir() or name.endswith(layout.HEADERS_EXT):
            continue
        stem, ext = os.path.splitext(name)
        when = _memento_date(stem) or labels.get(stem)
        if when is None:
            raise BadInput(f"{full}: a version named neither by its date (YYYYMMDDHHMMSS) nor in "
                           f"{layout.VERSIONS} TimeMap")
        yield full, stem, ext, when


def rebase(state: State, memento_url: str, url: str, old_base: str, dest: str) -> None:
    """A memento's triples are about the memento's URL; a version is about the resource: ``state``'s
    triples (its graph, or its stored N-Triples when read as text) are made so."""
    entry_id = rdf.to_internal(_graph_of(url), old_base)
    memento_id = rdf.to_internal(_graph_of(memento_url), old_base)
    old, new = str(next(iter(memento_id))[0]), str(next(iter(entry_id))[0])
    if dest != "/":
        old, new = old.replace(paths.ROOT_ID, paths.to_id(dest), 1), new.replace(paths.ROOT_ID,
                                                                                paths.to_id(dest), 1)
    if state.ntriples is not None:
        state.ntriples = _rebased_lines(state.ntriples, old, new)
    if state.spec.graph is None or old == new:
        return
    from rdflib import URIRef

    out = rdf.new_graph()
    for s, p, o in state.spec.graph:
        out.add((URIRef(new) if str(s) == old else s, p, URIRef(new) if str(o) == old else o))
    state.spec.graph = out


def _rebased_lines(data: bytes, old: str, new: str) -> bytes:
    """Stored N-Triples (sorted distinct lines) with the IRI ``old`` as subject or object made ``new``,
    still sorted and distinct: what ``rdf.write_ntriples`` writes of the graph ``rebase`` makes."""
    old_term, new_term = f"<{old}>".encode(), f"<{new}>".encode()
    if old == new or old_term not in data:
        return data
    lines = set()
    for line in data.splitlines():
        if line.startswith(old_term + b" "):
            line = new_term + line[len(old_term):]
        if line.endswith(b" " + old_term + b" ."):
            line = line[:-len(old_term) - 2] + new_term + b" ."
        lines.add(line)
    return b"".join(line + b"\n" for line in sorted(lines))


def states(prepared: Prepared, dated: bool) -> list[tuple[State, datetime | None]]:
    """The versions to write, as fcrepo-upgrade-utils writes them: every memento, then the
    current state when its last-modified date differs from the newest memento's."""
    assert prepared.current is not None
    if not prepared.versions or not dated:
        return [(prepared.current, prepared.current.modified)]
    out: list[tuple[State, datetime | None]] = [(state, when) for when, state in prepared.versions]
    newest = prepared.versions[-1][1].modified
    if newest is None or prepared.current.modified is None or newest != prepared.current.modified:
        out.append((prepared.current, prepared.current.modified))
    return out


def stage(batch: Any, prepared: Prepared, dated: bool) -> bool:
    """Stage a resource in a local write batch (``LocalRepository.batch``) with every version
    ``states`` gives and its ACL in the first, as Writer.write writes them one commit each; False
    when the batch cannot take it. On an error nothing of it stays staged."""
    path = prepared.entry.path
    for number, (state, when) in enumerate(states(prepared, dated)):
        dates = _dates(state, when if dated else None)
        with _with_content(state) as spec:
            if number == 0:
                if not batch.create(path, spec, ntriples=state.ntriples, acl=prepared.acl, **dates):
                    return False
                continue
            try:
                batch.revise(path, spec, ntriples=state.ntriples, **dates)
            except BaseException:
                batch.drop(path)
                raise
    return True


def _dates(state: State, when: datetime | None) -> dict[str, Any]:
    """A state's dates and users as import_write's ``_dating`` gives them (none: undated, now)."""
    modified = state.modified or when
    if modified is None or when is None:
        return {}
    return {"created": state.created or modified, "modified": modified, "version": when,
            "created_by": state.created_by, "modified_by": state.modified_by}


@contextlib.contextmanager
def _with_content(state: State) -> Iterator[ResourceSpec]:
    if state.content_file is None:
        yield state.spec
        return
    with open(state.content_file, "rb") as handle:
        yield dataclasses.replace(state.spec, content=handle)


def _fedora4_version_dates(owner_dir: Path, url: str, parse: Callable[..., Graph]) -> dict[str, datetime]:
    from rdflib import URIRef

    timemap = with_rdf_ext(owner_dir / layout.VERSIONS)
    if timemap is None:
        return {}
    graph = parse(timemap, url=url + "/fcr:versions")
    out: dict[str, datetime] = {}
    for version in graph.objects(None, URIRef(rdf.FEDORA + "hasVersion")):
        # an unlabelled version (fcrctl serve) is named by its URL only
        segment = urllib.parse.unquote(str(version).rstrip("/").rsplit("/", 1)[-1])
        label = first(graph, version, rdf.FEDORA + "hasVersionLabel") or segment
        created = first(graph, version, rdf.FEDORA + "created")
        if label and created:
            # to the second, as fcrepo-upgrade-utils dates it: its 4.7 -> 5 step names the memento
            # yyyyMMddHHmmss of this date, and its 5 -> 6 step dates the OCFL version by that name
            with contextlib.suppress(ValueError):
                out[label] = utc(datetime.fromisoformat(created)).replace(microsecond=0)
    return out


def first(graph: Graph, subject: object, predicate: str) -> str | None:
    """The first object of (subject, predicate), as a string."""
    from rdflib import URIRef

    for obj in graph.objects(subject, URIRef(predicate)):  # type: ignore[arg-type]
        return str(obj)
    return None


def _graph_of(url: str) -> Graph:
    from rdflib import URIRef

    graph = rdf.new_graph()
    graph.add((URIRef(url), URIRef(rdf.RDF_NS + "type"), URIRef(rdf.LDP + "Resource")))
    return graph


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _memento_date(stem: str) -> datetime | None:
    if not _MEMENTO.fullmatch(stem):
        return None
    try:
        return datetime.strptime(stem, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
