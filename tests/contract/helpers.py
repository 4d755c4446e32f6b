"""Small builders shared by the contract tests."""

from __future__ import annotations

import io

from rdflib import Graph, Literal, URIRef

from fcrctl import rdf
from fcrctl.paths import to_id
from fcrctl.repository.base import ResourceSpec

DC = "http://purl.org/dc/elements/1.1/"
DC_TITLE = URIRef(DC + "title")


def turtle(path: str, body: str) -> Graph:
    return rdf.parse(body.encode(), "text/turtle", base=to_id(path), source="test body")


def container(path: str, title: str | None = None, **kwargs: object) -> ResourceSpec:
    body = f'<> <{DC}title> "{title}" .' if title else ""
    return ResourceSpec(graph=turtle(path, body), **kwargs)  # type: ignore[arg-type]


def binary(data: bytes, mime: str = "text/plain", **kwargs: object) -> ResourceSpec:
    return ResourceSpec(content=io.BytesIO(data), binary=True, mime_type=mime, **kwargs)  # type: ignore[arg-type]


def titles(graph: Graph, path: str) -> set[str]:
    return {str(o) for o in graph.objects(URIRef(to_id(path)), DC_TITLE)}


def objects(graph: Graph, path: str, predicate: str) -> set[str]:
    return {str(o) for o in graph.objects(URIRef(to_id(path)), URIRef(predicate))}


def title_literal(value: str) -> Literal:
    return Literal(value)
