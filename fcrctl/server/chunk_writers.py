"""rdflib's Turtle and N3 writers with every blank node labelled, so documents written in chunks join into one

rdflib writes a blank node referenced once as ``[ ... ]`` in place and an unreferenced one as
``[] ...``: each chunk would then make its own nodes of what is one node split across two
chunks. Labelled (``_:b1``), the same node has the same name in every chunk of a listing.
Imported only by listings.py, when a body is streamed (it imports rdflib).
"""

from __future__ import annotations

from rdflib import BNode
from rdflib.plugins.serializers.n3 import N3Serializer
from rdflib.plugins.serializers.turtle import TurtleSerializer

from fcrctl.server import fedora4_writers


class _Labelled:
    """Counts every blank node as referenced twice: rdflib then writes it by its label."""

    _references: dict[object, int]

    def preprocessTriple(self, triple: tuple) -> None:  # noqa: N802 - rdflib's name
        super().preprocessTriple(triple)  # type: ignore[misc]
        for node in (triple[0], triple[2]):
            if isinstance(node, BNode):
                self._references[node] += 2


class Turtle(_Labelled, TurtleSerializer):
    pass


class N3(_Labelled, N3Serializer):
    pass


class Fedora4Turtle(_Labelled, fedora4_writers.Turtle):
    pass


class Fedora4N3(_Labelled, fedora4_writers.N3):
    pass


# (rdflib format, Fedora 4's literals) -> (the chunk writer, the writer of a body that is one chunk)
WRITERS = {
    ("turtle", False): (Turtle, TurtleSerializer),
    ("n3", False): (N3, N3Serializer),
    ("turtle", True): (Fedora4Turtle, fedora4_writers.Turtle),
    ("n3", True): (Fedora4N3, fedora4_writers.N3),
}
