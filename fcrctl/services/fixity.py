"""Fixity over a whole tree: parallel, streaming re-verification of every binary.

Each backend verifies one binary where its content lives (``Repository.fixity``); this module
chooses the binaries (``--since``, ``--sample``), runs them on a thread pool (hashlib releases
the GIL on large buffers, so threads reach the disk/hash limit), and reports.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from fcrctl.errors import BadInput, CorruptData, Gone, NotFound
from fcrctl.repository.base import DIGEST_ALGORITHMS, FixityResult, Repository, ResourceInfo
from fcrctl.services.pool import BoundedPool

CHUNK = 1 << 20
STRENGTH = ("sha512", "sha256", "sha1", "md5")  # strongest first


def check_algorithm(algorithm: str | None) -> str | None:
    if algorithm is None:
        return None
    name = algorithm.lower().replace("-", "")
    name = {"sha": "sha1"}.get(name, name)
    if name not in DIGEST_ALGORITHMS:
        raise BadInput(f"unsupported digest algorithm {algorithm!r}: use one of {', '.join(DIGEST_ALGORITHMS)}")
    return name


def pick_algorithm(info: ResourceInfo, wanted: str | None) -> str:
    """The requested algorithm, else the strongest digest the binary has (sha512 by default)."""
    if wanted:
        return wanted
    return next((a for a in STRENGTH if a in info.digests), "sha512")


def default_jobs(repo: Repository) -> int:
    """Cores for a local repository (the hashing happens here). A remote server hashes, and each
    check spends part of its time on the network and in the server's request handling, so
    with one request in flight per core the server's cores sit idle part of the time: keep 4
    per core in flight (the HTTP pool holds 32 connections)."""
    from fcrctl.repository import scheme_of

    cores = os.cpu_count() or 2
    return 4 * cores if scheme_of(repo.location) in ("http", "https") else cores


def hash_stream(stream: BinaryIO, algorithm: str) -> tuple[str, int]:
    """(hex digest, bytes read), reading in 1 MB chunks."""
    digest = hashlib.new(algorithm)
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def compare(info: ResourceInfo, algorithm: str, actual: str, size: int) -> FixityResult:
    """Judge recomputed facts against the stored ones (size first, as Fedora reports it)."""
    expected = info.digests.get(algorithm)
    result = FixityResult(
        path=info.path, outcome="SUCCESS", algorithm=algorithm, expected=expected, actual=actual,
        expected_size=info.size, size=size,
    )
    if info.size is not None and size != info.size:
        result.outcome = "BAD_SIZE"
    elif expected is not None and expected != actual:
        result.outcome = "BAD_CHECKSUM"
    elif expected is None:
        result.detail = f"no stored {algorithm} digest to compare with; computed one reported"
    return result


def verify_by_download(repo: Repository, info: ResourceInfo, algorithm: str) -> FixityResult:
    """The generic check: stream the content through the protocol and hash it here."""
    with repo.open_binary(info.path) as content:
        actual, size = hash_stream(content.stream, algorithm)
    return compare(info, algorithm, actual, size)


@dataclass
class FixityReport:
    checked: int = 0
    bytes: int = 0
    seconds: float = 0.0
    failures: list[FixityResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "mb_per_s": round(self.mb_per_s, 1),
            "outcomes": dict(self.counts),
            "failures": [f.to_json() for f in self.failures],
        }


def select(
    repo: Repository, path: str, *, recursive: bool, since: datetime | None = None, sample: float | None = None,
    seed: int | None = None,
) -> Iterator[ResourceInfo]:
    """The binaries to check, streamed from the listing."""
    rng = random.Random(seed)
    top = repo.info(path)
    candidates: Iterator[ResourceInfo]
    if top.is_binary:
        candidates = iter([top])
    elif recursive and since is not None and callable(getattr(repo, "binaries_modified_since", None)):
        candidates = repo.binaries_modified_since(path, since)  # type: ignore[attr-defined]  # the index picks them
    elif recursive:
        candidates = repo.children(path, recursive=True)
    else:
        raise BadInput(f"{path} is a container: use -R to check every binary below it")
    for info in candidates:
        if not info.is_binary:
            continue
        if since is not None and info.modified < since:
            continue
        if sample is not None and rng.random() * 100 >= sample:
            continue
        yield info


def run(
    repo: Repository,
    path: str = "/",
    *,
    recursive: bool = False,
    algorithm: str | None = None,
    jobs: int | None = None,
    since: datetime | None = None,
    sample: float | None = None,
    client_side: bool = False,
    fetch_external: bool = False,
    on_result: Callable[[FixityResult], None] | None = None,
) -> FixityReport:
    """Check every selected binary with ``jobs`` threads (default: ``default_jobs``); memory stays
    bounded by the queue."""
    jobs = jobs or default_jobs(repo)
    wanted = check_algorithm(algorithm)
    if sample is not None and not 0 < sample <= 100:
        raise BadInput(f"--sample {sample} is out of range: give a percentage in (0, 100]")
    report = FixityReport()
    started = time.perf_counter()

    def one(info: ResourceInfo) -> FixityResult | None:
        try:
            return check(info)
        except (NotFound, Gone):
            return None  # deleted while the run went on: nothing left to verify
        except CorruptData as exc:
            return FixityResult(path=info.path, outcome="MISSING", algorithm=pick_algorithm(info, wanted),
                                detail=exc.message)

    def check(info: ResourceInfo) -> FixityResult:
        if info.external_handling in ("redirect", "proxy") and not fetch_external:
            return FixityResult(
                path=info.path, outcome="UNVERIFIABLE", algorithm=pick_algorithm(info, wanted),
                detail=f"external content ({info.external_handling}): use --fetch-external to verify it",
            )
        if info.external_handling in ("redirect", "proxy") or client_side:
            return verify_by_download(repo, info, pick_algorithm(info, wanted))
        return repo.fixity(info, algorithm=wanted)

    def record(result: FixityResult | None) -> None:
        if result is None:
            return
        report.checked += 1
        report.bytes += result.size or 0
        report.counts[result.outcome] = report.counts.get(result.outcome, 0) + 1
        if result.outcome not in ("SUCCESS", "UNVERIFIABLE"):
            report.failures.append(result)
        if on_result is not None:
            on_result(result)

    with BoundedPool[FixityResult | None](jobs, jobs * 4, name="fcrctl-fixity", on_done=record) as pool:
        for info in select(repo, path, recursive=recursive, since=since, sample=sample):
            pool.submit(one, info)
    report.seconds = time.perf_counter() - started
    return report


def premis_turtle(results: list[FixityResult], base_uri: str, when: datetime) -> bytes:
    """PREMIS fixity events as Turtle, shaped like Fedora's fcr:fixity report."""
    from rdflib import Graph, Literal, Namespace, URIRef
    from rdflib.namespace import RDF, XSD

    from fcrctl import rdf
    from fcrctl.paths import to_id

    premis = Namespace(rdf.PREMIS)
    graph = Graph()
    graph.bind("premis", premis)
    stamp = int(when.timestamp() * 1000)
    for result in results:
        subject = URIRef(rdf.id_to_url(to_id(result.path), base_uri))
        event = URIRef(f"{subject}#fixity/{stamp}")
        graph.add((subject, premis.hasFixity, event))
        graph.add((event, RDF.type, premis.Fixity))
        graph.add((event, RDF.type, premis.EventOutcomeDetail))
        graph.add((event, premis.hasEventOutcome, Literal(result.outcome)))
        graph.add((event, premis.hasMessageDigestAlgorithm, Literal(_premis_algorithm(result.algorithm))))
        if result.actual:
            graph.add((event, premis.hasMessageDigest, URIRef(rdf.digest_urn(result.algorithm, result.actual))))
        if result.size is not None:
            graph.add((event, premis.hasSize, Literal(result.size, datatype=XSD.long)))
        graph.add((event, premis.hasEventDateTime, Literal(when.isoformat(), datatype=XSD.dateTime)))
    out = graph.serialize(format="turtle", encoding="utf-8")
    return out if isinstance(out, bytes) else out.encode()


def _premis_algorithm(algorithm: str) -> str:
    return {"sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512", "md5": "MD5"}.get(algorithm, algorithm.upper())
