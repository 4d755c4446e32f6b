"""fcrctl.rdf: formats, parsing errors, id rewriting, server-managed triples, SPARQL Update."""

from __future__ import annotations

import pytest
from rdflib import Literal, URIRef

from fcrctl import rdf
from fcrctl.errors import BadInput, Conflict

DC_TITLE = URIRef("http://purl.org/dc/elements/1.1/title")


@pytest.mark.parametrize("mime", sorted(rdf.RDF_MEDIA_TYPES))
def test_round_trip_every_media_type(mime: str) -> None:
    graph = rdf.parse(b'<> <http://purl.org/dc/elements/1.1/title> "t" .', "text/turtle", base="info:fedora/a")
    again = rdf.parse(rdf.serialize(graph, mime), mime, base="info:fedora/a")
    assert set(again) == {(URIRef("info:fedora/a"), DC_TITLE, Literal("t"))}


def test_empty_relative_iri_means_the_target() -> None:
    graph = rdf.parse(b'<> <http://x/p> <#frag> .', "text/turtle", base="info:fedora/a/b")
    assert (URIRef("info:fedora/a/b"), URIRef("http://x/p"), URIRef("info:fedora/a/b#frag")) in graph


@pytest.mark.parametrize(
    ("data", "mime", "line"),
    [
        (b'<> <http://x/p> "x" .\n<a> <b> ', "text/turtle", 2),
        (b"<http://a> <http://b> <http://c> .\n<http://a> <http://b> .\n", "application/n-triples", 2),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n<foo', "application/rdf+xml", 2),
        (b'{"@id":\n "x",', "application/ld+json", 2),
    ],
)
def test_malformed_input_names_source_and_line(data: bytes, mime: str, line: int) -> None:
    with pytest.raises(BadInput) as err:
        rdf.parse(data, mime, base="info:fedora/a", source="a.ttl")
    assert err.value.message.startswith("a.ttl: malformed")
    assert f"at line {line}" in err.value.message
    assert "\n" not in err.value.message


def test_remote_jsonld_context_is_refused() -> None:
    with pytest.raises(BadInput, match="remote JSON-LD"):
        rdf.parse(b'{"@context": "http://example.org/ctx", "@id": ""}', "application/ld+json", base="info:fedora")


@pytest.mark.parametrize("name", ["turtle", "ttl", "jsonld", "ntriples", "rdfxml", "n3", "text/turtle; charset=utf-8"])
def test_resolve_format_accepts_names_and_mimes(name: str) -> None:
    assert rdf.resolve_format(name) in rdf.RDF_MEDIA_TYPES


def test_resolve_format_unknown() -> None:
    with pytest.raises(BadInput, match="unknown RDF format 'yaml'"):
        rdf.resolve_format("yaml")


def test_text_plain_is_not_an_rdf_upload() -> None:
    assert not rdf.is_rdf_mime("text/plain")
    assert rdf.is_rdf_mime("text/turtle;charset=utf-8")


def test_negotiate() -> None:
    assert rdf.negotiate(None) == "text/turtle"
    assert rdf.negotiate("application/ld+json;q=0.9, text/turtle;q=0.5") == "application/ld+json"
    assert rdf.negotiate("image/png") is None
    assert rdf.negotiate("text/plain") == "application/n-triples"


def test_ids_and_urls_round_trip() -> None:
    base = "http://localhost:8080/rest"
    graph = rdf.parse(b"<> <http://x/p> <../other> .", "text/turtle", base=base + "/a/b")
    internal = rdf.to_internal(graph, base)
    assert (URIRef("info:fedora/a/b"), URIRef("http://x/p"), URIRef("info:fedora/other")) in internal
    assert set(rdf.to_external(internal, base)) == set(graph)
    assert rdf.url_to_id(base + "/", base) == "info:fedora"
    assert rdf.url_to_id("http://elsewhere/x", base) is None


def test_fcr_metadata_url_names_the_binary() -> None:
    base = "http://h/rest"
    graph = rdf.parse(b'<> <http://x/p> "v" .', "text/turtle", base=base + "/bin/fcr:metadata")
    assert {str(s) for s, _, _ in rdf.to_internal(graph, base)} == {"info:fedora/bin"}


def test_server_managed_triples_refused_or_dropped() -> None:
    body = (
        b'<> <http://fedora.info/definitions/v4/repository#created> "x" ;'
        b' <http://purl.org/dc/elements/1.1/title> "t" .'
    )
    graph = rdf.parse(body, "text/turtle", base="info:fedora/a")
    with pytest.raises(Conflict, match="--lenient"):
        rdf.check_user_triples(graph, subject_id="info:fedora/a")
    kept = rdf.check_user_triples(graph, subject_id="info:fedora/a", lenient=True)
    assert set(kept) == {(URIRef("info:fedora/a"), DC_TITLE, Literal("t"))}


def test_ldp_types_are_server_managed_but_user_types_are_not() -> None:
    assert rdf.is_server_managed(rdf.RDF_NS + "type", rdf.LDP + "Container")
    assert not rdf.is_server_managed(rdf.RDF_NS + "type", "http://pcdm.org/models#Object")
    assert not rdf.is_server_managed(rdf.LDP + "membershipResource")


def test_sparql_update_modifies_a_copy() -> None:
    graph = rdf.parse(b'<> <http://purl.org/dc/elements/1.1/title> "old" .', "text/turtle", base="info:fedora/a")
    update = (
        "PREFIX dc: <http://purl.org/dc/elements/1.1/> "
        'DELETE { <> dc:title ?t } INSERT { <> dc:title "new" } WHERE { <> dc:title ?t }'
    )
    new = rdf.apply_update(graph, update, base="info:fedora/a")
    assert set(new) == {(URIRef("info:fedora/a"), DC_TITLE, Literal("new"))}
    assert (URIRef("info:fedora/a"), DC_TITLE, Literal("old")) in graph


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ("INSERT DATA { <> <p> }", "invalid SPARQL Update"),
        ("LOAD <http://example.org/x>", "(?i)load"),
        ("CLEAR ALL", "not allowed"),
        ("INSERT { <> <http://x/p> ?o } WHERE { SERVICE <http://e/sparql> { ?s ?p ?o } }", "SERVICE"),
    ],
)
def test_bad_sparql_updates(update: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        rdf.apply_update(rdf.read_ntriples(b""), update, base="info:fedora/a")


def test_prefer_parse_and_build() -> None:
    header = (
        'return=representation; include="http://fedora.info/definitions/v4/repository#InboundReferences"; '
        'omit="http://www.w3.org/ns/ldp#PreferMembership http://www.w3.org/ns/ldp#PreferContainment"'
    )
    prefs, applied = rdf.parse_prefer(header)
    assert (prefs.inbound, prefs.membership, prefs.containment, prefs.server_managed) == (True, False, False, True)
    assert applied and "InboundReferences" in applied
    again, _ = rdf.parse_prefer(rdf.prefer_header(prefs))
    assert again == prefs
    minimal, _ = rdf.parse_prefer("return=minimal")
    assert not minimal.containment


def test_ntriples_are_deterministic() -> None:
    a = rdf.parse(b'<> <http://x/b> "2" ; <http://x/a> "1" .', "text/turtle", base="info:fedora/x")
    b = rdf.parse(b'<> <http://x/a> "1" ; <http://x/b> "2" .', "text/turtle", base="info:fedora/x")
    assert rdf.write_ntriples(a) == rdf.write_ntriples(b)


def test_digest_urns() -> None:
    assert rdf.parse_digest_urn("urn:sha-512:ABC") == ("sha512", "abc")
    assert rdf.parse_digest_urn("urn:sha1:00") == ("sha1", "00")
    assert rdf.parse_digest_urn("urn:crc32:00") is None
    assert rdf.digest_urn("sha256", "ff") == "urn:sha-256:ff"


def test_absolute_path_references_resolve_inside_the_repository() -> None:
    graph = rdf.parse(b"<> <http://x/p> </target> .", "text/turtle", base="info:fedora/a/b")
    assert (URIRef("info:fedora/a/b"), URIRef("http://x/p"), URIRef("info:fedora/target")) in graph
    root = rdf.parse(b'<> <http://x/p> "r" .', "text/turtle", base="info:fedora")
    assert {str(s) for s in root.subjects()} == {"info:fedora"}
