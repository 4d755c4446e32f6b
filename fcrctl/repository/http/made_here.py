"""Creating a resource in one request (import): the containers this client made, stored N-Triples as a body

A container this client made itself (201 to an If-None-Match create) holds nothing but what this
client then put in it, so creating in it needs no HEAD of the parent nor of the path (as far as
the race between a HEAD and its PUT ever allowed). Its stored N-Triples go as they are, once
rewritten to URLs, without an rdflib graph parsed and serialised on the way.
"""

from __future__ import annotations

import threading

from fcrctl import paths

# Bounded, oldest first: a parent is always dropped before its children, and a dropped parent only
# costs its children the HEADs it saves
LIMIT = 16384


class MadeHere:
    """The containers this client made, and what it then made in them."""

    def __init__(self) -> None:
        self._made: dict[str, None] = {}
        self._lock = threading.Lock()

    def free_under_made(self, path: str) -> bool:
        """Whether ``path``'s parent was made here and ``path`` was not: then ``path`` is free."""
        parent = paths.parent(path)
        with self._lock:
            return parent is not None and parent in self._made and path not in self._made

    def remember(self, path: str, *, container: bool) -> None:
        """``path`` was just made by this client: a container is empty but for what it makes in it."""
        parent = paths.parent(path)
        with self._lock:
            if container or (parent is not None and parent in self._made):
                self._made[path] = None
                while len(self._made) > LIMIT:
                    del self._made[next(iter(self._made))]

    def forget(self) -> None:
        """Something was deleted, purged, moved or copied, or ancestors made: trust none of it."""
        with self._lock:
            self._made.clear()


def external_lines(ntriples: bytes, base_uri: str) -> list[str] | None:
    """Stored N-Triples (ids internal) as the lines to send, ids rewritten to URLs as
    ``rdf.to_external`` does; None when a line is not in the form ``ntlines.LINE`` handles."""
    from fcrctl.services.transfer.ntlines import LINE, _Rewriter  # the rewrite export makes of a line

    try:
        text = ntriples.decode("utf-8")
    except UnicodeDecodeError:
        return None
    rewrite = _Rewriter(base_uri)
    out = []
    for line in text.splitlines():
        if not line:
            continue
        match = LINE.fullmatch(line)
        if match is None:
            return None
        s, p, o_iri = match.group(1, 2, 3)
        obj = f"<{rewrite(o_iri)}> ." if o_iri is not None else line[match.end(2) + 2:]
        out.append(f"<{rewrite(s)}> <{p}> {obj}")
    return out
