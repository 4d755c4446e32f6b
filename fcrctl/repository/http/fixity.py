"""Fixity over HTTP: the server hashes (Want-Digest, Fedora 4's fcr:fixity), else we download and hash"""

from __future__ import annotations

from collections.abc import Callable

from fcrctl import rdf
from fcrctl.errors import BadInput, CorruptData, NotFound, Unavailable, Unsupported
from fcrctl.repository.base import BinaryContent, FixityResult, RdfPrefs, ResourceInfo
from fcrctl.repository.http import dialect as dialects
from fcrctl.repository.http import wire
from fcrctl.repository.http.facts import PREMIS
from fcrctl.repository.http.remote import Remote

OpenBinary = Callable[[str], BinaryContent]


class Fixity:
    """fixity(): one binary's digest checked the cheapest way the server allows."""

    def __init__(self, remote: Remote, open_binary: OpenBinary, endpoint: bool | None = None) -> None:
        self._remote = remote
        self._open_binary = open_binary
        self.endpoint = endpoint  # does the server offer fcr:fixity? (unknown until tried)

    def fixity(self, info: ResourceInfo, *, algorithm: str | None = None, client_side: bool = False) -> FixityResult:
        """Ask the server to recompute a digest (Want-Digest, or Fedora 4's fcr:fixity); fall back
        to downloading and hashing here when the server cannot, or when ``client_side``."""
        if not info.is_binary:
            raise BadInput(f"{info.path} is a container: fixity applies to binaries", path=info.path)
        strongest = ("sha512", "sha256", "sha1", "md5")
        default = "sha512" if "sha512" in self._remote.dialect.digest_algorithms else "sha1"
        algorithm = algorithm or next((a for a in strongest if a in info.digests), default)
        if algorithm not in dialects.WIRE_DIGESTS:
            raise BadInput(f"unsupported digest algorithm {algorithm!r}: use sha512, sha256, sha1 or md5")
        if info.external_handling in ("redirect", "proxy") and not client_side:
            return FixityResult(
                path=info.path,
                outcome="UNVERIFIABLE",
                algorithm=algorithm,
                detail=f"external content ({info.external_handling}) is not stored by the server",
            )
        actual: str | None = None
        size = info.size
        if not client_side and self._remote.dialect.want_digest:
            # Fast path: one HEAD, the server hashes, no RDF on either side.
            headers = {**self._remote.tx_headers, "Want-Digest": wire.want_digest_header([algorithm])}
            url = self._remote.url(info.path)
            answer = self._remote.quick_head.head(url, headers)
            if answer is None:  # not a plain success: the ordinary path raises or explains it
                try:
                    sent = self._remote.send("HEAD", url, path=info.path, headers=headers, allow_redirects=False)
                    answer = sent.headers
                except (Unavailable, CorruptData):
                    answer = None  # e.g. the server cannot read the content: fcr:fixity may say why
            actual = wire.parse_digest(answer.get("Digest")).get(algorithm) if answer is not None else None
            if actual is not None and actual == info.digests.get(algorithm):
                return FixityResult(
                    path=info.path, outcome="SUCCESS", algorithm=algorithm, expected=actual, actual=actual,
                    expected_size=info.size, size=info.size,
                )
        if not client_side and self.endpoint is not False:
            # The server's own judgement tells BAD_SIZE and MISSING apart from BAD_CHECKSUM.
            report = self._fcr_fixity(info, algorithm)
            if report is not None:
                return report
        if actual is None:
            with self._open_binary(info.path) as content:
                hasher = wire.HashingReader(content.stream, [algorithm], None)
                while hasher.read(1 << 20):
                    pass
            actual, size = hasher.hexdigests()[algorithm], hasher.bytes_read
        result = FixityResult(
            path=info.path,
            outcome="SUCCESS",
            algorithm=algorithm,
            expected=info.digests.get(algorithm),
            actual=actual,
            expected_size=info.size,
            size=size,
        )
        if info.size is not None and size is not None and size != info.size:
            result.outcome = "BAD_SIZE"
        elif result.expected is not None and result.expected != actual:
            result.outcome = "BAD_CHECKSUM"
        elif result.expected is None:
            result.detail = f"no stored {algorithm} digest to compare with; computed one reported"
        return result

    def _fcr_fixity(self, info: ResourceInfo, algorithm: str) -> FixityResult | None:
        """The server's own judgement (fcr:fixity's PREMIS report: every outcome, sizes included).

        None when the server has no fcr:fixity (Fedora 6 dropped it; remembered after the first
        try) or its report uses another algorithm than the one asked for.
        """
        from rdflib import URIRef

        url = self._remote.url(info.path) + "/fcr:fixity"
        try:
            graph, _ = self._remote.get_graph(url, info.path, prefs=RdfPrefs(), what=f"fixity of {info.path}")
        except (NotFound, Unsupported, BadInput):
            self.endpoint = False
            return None
        self.endpoint = True
        outcomes = {str(o) for o in graph.objects(None, URIRef(PREMIS + "hasEventOutcome"))}
        names = graph.objects(None, URIRef(PREMIS + "hasMessageDigestAlgorithm"))
        reported = {{"sha": "sha1"}.get(name, name) for name in (str(n).lower().replace("-", "") for n in names)}
        if not outcomes or algorithm not in reported:
            return None
        actual = None
        for urn in graph.objects(None, URIRef(PREMIS + "hasMessageDigest")):
            parsed = rdf.parse_digest_urn(str(urn).replace("urn:shal:", "urn:sha1:"))
            if parsed and parsed[0] == algorithm:
                actual = parsed[1]
        sizes = [int(str(o)) for o in graph.objects(None, URIRef(PREMIS + "hasSize")) if str(o).isdigit()]
        outcome = next((o for o in ("MISSING", "BAD_SIZE", "BAD_CHECKSUM") if o in outcomes), "SUCCESS")
        return FixityResult(
            path=info.path,
            outcome=outcome,
            algorithm=algorithm,
            expected=info.digests.get(algorithm),
            actual=actual,
            expected_size=info.size,
            size=sizes[0] if sizes else None,
        )
