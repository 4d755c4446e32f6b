"""A temp file of prepared resources between import's check pass and its writes (each file parsed once)

The check pass reads every resource before anything is written; what it read is kept here, on
disk, so the write pass (and --verify) replays it instead of parsing the export again, while
memory stays flat however big the export is. Graphs are kept as their triples.
"""

from __future__ import annotations

import io
import pickle
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fcrctl import rdf

if TYPE_CHECKING:
    from fcrctl.services.transfer.import_read import Prepared


class Spool:
    """Prepared resources and ``None`` barriers (see ExportTree.entries), in the order added."""

    def __init__(self) -> None:
        self._file: Any = tempfile.TemporaryFile(prefix="fcrctl-import-")  # noqa: SIM115 (closed by close())
        self.count = 0

    def add(self, item: Prepared | None) -> None:
        _Pickler(self._file).dump(item)  # each record stands alone (its own memo): nothing accumulates
        self.count += item is not None

    def add_packed(self, record: bytes) -> None:
        """A record ``pack`` made (in a worker process)."""
        self._file.write(record)
        self.count += 1

    def replay(self) -> Iterator[Prepared | None]:
        """Everything added, in order (as often as asked)."""
        self._file.flush()
        self._file.seek(0)
        while True:
            try:
                item = pickle.load(self._file)
            except EOFError:
                break
            yield item
        self._file.seek(0, io.SEEK_END)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pack(item: Prepared) -> bytes:
    out = io.BytesIO()
    _Pickler(out).dump(item)
    return out.getvalue()


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        # called for every object pickled (~17 a resource): without rdflib imported there is no
        # Graph to find, and an import statement per call cost more than the pickling
        graphs = sys.modules.get("rdflib.graph")
        if graphs is not None and isinstance(obj, graphs.Graph):
            return _graph, (list(obj),)
        return NotImplemented


def _graph(triples: list) -> Any:
    graph = rdf.new_graph()
    for triple in triples:
        graph.add(triple)
    return graph
