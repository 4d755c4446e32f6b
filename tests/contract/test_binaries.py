"""Repository contract: binaries, descriptions, digests, ranges. Runs on every backend."""

from __future__ import annotations

import hashlib
import io

import pytest

from fcrctl import rdf
from fcrctl.errors import BadInput, ChecksumMismatch, NotFound
from fcrctl.repository.base import NON_RDF_SOURCE, Repository, ResourceSpec
from tests.contract.helpers import DC, binary, container, objects, titles, turtle

DATA = b"hello, fedora\n" * 100


def read_all(repo: Repository, path: str, **kwargs: object) -> bytes:
    with repo.open_binary(path, **kwargs) as content:  # type: ignore[arg-type]
        return content.stream.read()


def test_binary_round_trip_with_facts(repo: Repository) -> None:
    info = repo.create("/file.txt", binary(DATA, "text/plain", filename="greeting.txt"))
    assert info.model == NON_RDF_SOURCE and info.is_binary
    assert info.size == len(DATA)
    assert info.mime_type == "text/plain"
    assert info.filename == "greeting.txt"
    assert info.digests.get("sha512") == hashlib.sha512(DATA).hexdigest()
    assert read_all(repo, "/file.txt") == DATA
    head = repo.info("/file.txt")
    assert head.digests.get("sha512") == hashlib.sha512(DATA).hexdigest()


def test_byte_range(repo: Repository) -> None:
    repo.create("/r.bin", binary(DATA))
    assert read_all(repo, "/r.bin", byte_range=(5, 9)) == DATA[5:10]
    assert read_all(repo, "/r.bin", byte_range=(10, None)) == DATA[10:]
    with pytest.raises(BadInput):
        read_all(repo, "/r.bin", byte_range=(len(DATA) + 10, None))


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5", "sha512"])
def test_matching_digest_is_accepted(repo: Repository, algorithm: str) -> None:
    digest = hashlib.new(algorithm, DATA).hexdigest()
    info = repo.create("/ok", binary(DATA, digests={algorithm: digest}))
    assert info.size == len(DATA)


def test_digest_mismatch_stores_nothing(repo: Repository) -> None:
    wrong = hashlib.sha1(b"something else").hexdigest()
    with pytest.raises(ChecksumMismatch) as err:
        repo.create("/bad", binary(DATA, digests={"sha1": wrong}))
    assert wrong in err.value.message
    with pytest.raises(NotFound):
        repo.info("/bad")


def test_unsupported_digest_algorithm(repo: Repository) -> None:
    with pytest.raises(BadInput):
        repo.create("/bad", binary(DATA, digests={"crc32": "00000000"}))
    with pytest.raises(NotFound):
        repo.info("/bad")


def test_replace_binary_content(repo: Repository) -> None:
    first = repo.create("/v.bin", binary(b"one"))
    info, created = repo.replace("/v.bin", binary(b"two, longer"))
    assert not created
    assert info.etag != first.etag
    assert read_all(repo, "/v.bin") == b"two, longer"
    assert repo.info("/v.bin").size == len(b"two, longer")


def test_description_triples(repo: Repository) -> None:
    repo.create("/d.bin", binary(b"x", "application/octet-stream"))
    repo.patch("/d.bin", f'PREFIX dc: <{DC}> INSERT DATA {{ <> dc:title "described" }}')
    graph = repo.get_rdf("/d.bin")
    assert titles(graph, "/d.bin") == {"described"}
    assert objects(graph, "/d.bin", rdf.PREMIS + "hasSize") == {"1"}
    repo.replace_description("/d.bin", turtle("/d.bin", f'<> <{DC}title> "replaced" .'))
    assert titles(repo.get_rdf("/d.bin"), "/d.bin") == {"replaced"}
    assert read_all(repo, "/d.bin") == b"x"


def test_mime_type_can_be_changed_through_the_description(repo: Repository) -> None:
    repo.create("/m.bin", binary(b"x", "application/octet-stream"))
    update = (
        f"PREFIX ebucore: <{rdf.EBUCORE}> DELETE {{ <> ebucore:hasMimeType ?m }} "
        'INSERT { <> ebucore:hasMimeType "text/csv" } WHERE { <> ebucore:hasMimeType ?m }'
    )
    repo.patch("/m.bin", update)
    assert repo.info("/m.bin").mime_type == "text/csv"


def test_binary_from_stream_of_unknown_length(repo: Repository) -> None:
    class Chunks(io.RawIOBase):
        def __init__(self) -> None:
            self.parts = [b"a" * 70000, b"b" * 70000]

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            if not self.parts:
                return 0
            part = self.parts.pop(0)
            buffer[: len(part)] = part
            return len(part)

    repo.create("/s.bin", ResourceSpec(content=io.BufferedReader(Chunks(), 1 << 20), binary=True))
    assert repo.info("/s.bin").size == 140000


def test_binaries_under_containers_are_listed(repo: Repository) -> None:
    repo.create("/col", container("/col"))
    repo.create("/col/f", binary(b"1"))
    children = list(repo.children("/col"))
    assert [c.path for c in children] == ["/col/f"]
    assert children[0].is_binary
