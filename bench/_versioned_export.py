"""An export tree of resources with versions, as Fedora 5 and fcrepo-import-export write it, for
bench/import_batches.py --versions and tests/test_import_versions_batched.py.

Written as files directly (building it through a repository would take one commit per version):
``count`` resources under ``/data/pK/`` (100 per parent), each with ``versions`` mementos under
``fcr%3Aversions/`` named by their date, one triple a line. The current state equals the newest
memento, except every 7th resource's, which changed after it (fcrepo-upgrade-utils' rule then
gives versions + 1 OCFL versions). Every ``binary_every``-th resource is a binary whose bytes and
description change with each memento; every ``acl_every``-th carries an ``fcr:acl``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE = "http://localhost:8080/rest"
DC = "http://purl.org/dc/elements/1.1/"
FEDORA = "http://fedora.info/definitions/v4/repository#"
LDP = "http://www.w3.org/ns/ldp#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
EBUCORE = "http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#"
XSD_DATE = "http://www.w3.org/2001/XMLSchema#dateTime"
START = datetime(2021, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)


def write(out: Path, count: int, versions: int = 3, *, binary_every: int = 25, acl_every: int = 10) -> int:
    """Write the tree under ``out`` (``out/rest.ttl``...); the number of OCFL versions it should give."""
    expected = 0
    _container(out / "rest.ttl", BASE, START, START, [(RDF_TYPE, f"<{FEDORA}RepositoryRoot>")])
    _container(out / "rest/data.ttl", BASE + "/data", START, START, [])
    for i in range(count):
        parent = f"data/p{i // 100}"
        if i % 100 == 0:
            _container(out / f"rest/{parent}.ttl", f"{BASE}/{parent}", START, START, [])
        name = f"{parent}/r{i}"
        url, folder = f"{BASE}/{name}", out / "rest" / name
        created = START + timedelta(seconds=i)
        dates = [created + timedelta(days=j, milliseconds=137 * j) for j in range(versions)]
        changed = i % 7 == 3
        modified = dates[-1] + timedelta(hours=1) if changed else dates[-1]
        binary = binary_every and i % binary_every == 0
        expected += versions + changed
        for j, when in enumerate(dates):
            stamp = when.strftime("%Y%m%d%H%M%S")
            stem = folder / "fcr%3Aversions" / stamp
            # a memento's triples are about the resource, or (every 3rd, as Fedora 4 writes them) the memento
            about = f"{url}/fcr:versions/{stamp}" if i % 3 == 1 else url
            if binary:
                _binary(stem.with_suffix(".binary"), stem / "fcr%3Ametadata.ttl", about, created, when, f"{i} v{j}")
            else:
                _container(stem.with_suffix(".ttl"), about, created, when,
                           [(DC + "title", f"resource {i} v{j}"), (DC + "relation", f"<{about}>")])
        last = f"{i} v{versions - 1}" if not changed else f"{i} current"
        if binary:
            _binary(folder.with_suffix(".binary"), folder / "fcr%3Ametadata.ttl", url, created, modified, last)
        else:
            title = f"resource {i} v{versions - 1}" if not changed else f"resource {i} current"
            _container(folder.with_suffix(".ttl"), url, created, modified,
                       [(DC + "title", title), (DC + "relation", f"<{url}>")])
        if acl_every and i % acl_every == 0:
            _acl(folder / "fcr%3Aacl.ttl", url, created)
    return expected


def _date(value: datetime) -> str:
    return f'"{value.isoformat(timespec="milliseconds").replace("+00:00", "Z")}"^^<{XSD_DATE}>'


def _lines(url: str, triples: list[tuple[str, str]]) -> str:
    out = []
    for predicate, value in triples:
        obj = value if value.startswith(('"', "<")) else f'"{value}"'
        out.append(f"<{url}> <{predicate}> {obj} .\n")
    return "".join(out)


def _write(file: Path, text: str) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text, encoding="utf-8")


def _container(file: Path, url: str, created: datetime, modified: datetime, triples: list[tuple[str, str]]) -> None:
    _write(file, _lines(url, [(FEDORA + "created", _date(created)), (FEDORA + "lastModified", _date(modified)),
                              (FEDORA + "createdBy", "bypassAdmin"), (FEDORA + "lastModifiedBy", "bypassAdmin"),
                              (RDF_TYPE, f"<{LDP}RDFSource>"), (RDF_TYPE, f"<{LDP}Container>"),
                              (RDF_TYPE, f"<{LDP}BasicContainer>"), (RDF_TYPE, f"<{FEDORA}Container>"),
                              *triples]))


def _binary(file: Path, description: Path, url: str, created: datetime, modified: datetime, label: str) -> None:
    _write(file, f"bytes of {label}\n" * 40)
    _write(description, _lines(url, [
        (FEDORA + "created", _date(created)), (FEDORA + "lastModified", _date(modified)),
        (RDF_TYPE, f"<{LDP}NonRDFSource>"), (RDF_TYPE, f"<{FEDORA}Binary>"),
        (EBUCORE + "hasMimeType", "text/plain"), (EBUCORE + "filename", f"{label.replace(' ', '-')}.txt"),
        (DC + "description", f"binary {label}")]))


def _acl(file: Path, url: str, created: datetime) -> None:
    acl = url + "/fcr:acl"
    _write(file, _lines(acl, [
        (RDF_TYPE, f"<{FEDORA}Resource>"), (RDF_TYPE, "<http://fedora.info/definitions/v4/webac#Acl>"),
        (FEDORA + "created", _date(created)), (FEDORA + "lastModified", _date(created)),
        (FEDORA + "createdBy", "bypassAdmin"), (FEDORA + "lastModifiedBy", "bypassAdmin")])
        + f"<{acl}#authz> <{RDF_TYPE}> <http://www.w3.org/ns/auth/acl#Authorization> .\n"
        + f"<{acl}#authz> <http://www.w3.org/ns/auth/acl#accessTo> <{url}> .\n"
        + f"<{acl}#authz> <http://www.w3.org/ns/auth/acl#mode> <http://www.w3.org/ns/auth/acl#Read> .\n"
        + f'<{acl}#authz> <http://www.w3.org/ns/auth/acl#agent> "reader" .\n')
