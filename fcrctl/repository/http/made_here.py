"""Creating a resource in one request (import): the containers this client made, stored N-Triples as a body

A container this client made itself (201 to an If-None-Match create) holds nothing but what this
client then put in it, so creating in it needs no HEAD of the parent nor of the path (as far as
the race between a HEAD and its PUT ever allowed). Its stored N-Triples go as they are, once
rewritten to URLs, without an rdflib graph parsed and serialised on the way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from fcrctl import paths

# Bounded. In an export's order a directory's files (containers among them) are all written before
# its subdirectories: a container waits, made and unused, until the import comes to its children.
# So what goes first is the newest container not yet used as a parent (most likely a leaf), then the
# least recently used parent; what is dropped only costs its creates the HEADs this saves.
LIMIT = 16384


class MadeHere:
    """The containers this client made (with a child made in them since, or not yet)."""

    def __init__(self) -> None:
        self._unused: OrderedDict[str, None] = OrderedDict()
        self._used: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def free_under_made(self, path: str) -> bool:
        """Whether ``path``'s parent was made here and ``path`` was not (as far as the record holds)."""
        parent = paths.parent(path)
        with self._lock:
            if parent is None or path in self._unused or path in self._used:
                return False
            if parent in self._unused:
                del self._unused[parent]
            elif parent not in self._used:
                return False
            self._used[parent] = None
            self._used.move_to_end(parent)
            return True

    def remember(self, path: str) -> None:
        """``path`` was just made by this client (a container: empty but for what it makes in it)."""
        with self._lock:
            self._unused[path] = None
            while len(self._unused) + len(self._used) > LIMIT:
                if self._unused:
                    self._unused.popitem(last=True)
                else:
                    self._used.popitem(last=False)

    def forget(self) -> None:
        """Something was deleted, purged, moved or copied, or ancestors made: trust none of it."""
        with self._lock:
            self._unused.clear()
            self._used.clear()


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
