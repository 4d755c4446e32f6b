"""rdflib's Turtle and N3 writers, writing booleans as Fedora 4.7's patched Jena writers do:
``"true"^^xsd:boolean``, never the abbreviated ``true`` (registered by server/fedora4.py)."""

from __future__ import annotations

from rdflib import Literal
from rdflib.namespace import XSD
from rdflib.plugins.serializers.n3 import N3Serializer
from rdflib.plugins.serializers.turtle import TurtleSerializer
from rdflib.term import Node


def _label(self: TurtleSerializer, node: Node, position: int) -> str | None:
    if isinstance(node, Literal) and node.datatype == XSD.boolean:
        return node._literal_n3(use_plain=False, qname_callback=lambda dt: self.get_pname(dt, False))
    return None


class Turtle(TurtleSerializer):
    def label(self, node: Node, position: int) -> str:
        return _label(self, node, position) or super().label(node, position)


class N3(N3Serializer):
    def label(self, node: Node, position: int) -> str:
        return _label(self, node, position) or super().label(node, position)
