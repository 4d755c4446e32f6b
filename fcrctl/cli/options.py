"""Reusable ``Annotated`` option types, so every command spells a shared option the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fcrctl.cli import complete

PathArg = Annotated[
    str, typer.Argument(help="Repository path, e.g. /collection/item.", metavar="PATH", show_default=False)
]
OptionalPathArg = Annotated[str, typer.Argument(help="Repository path (default: the root /).", metavar="PATH")]
SourceArg = Annotated[str, typer.Argument(help="Source repository path.", metavar="SRC", show_default=False)]
DestArg = Annotated[str, typer.Argument(help="Destination repository path.", metavar="DST", show_default=False)]
VersionArg = Annotated[
    str,
    typer.Argument(help="Version id, label or memento YYYYMMDDHHMMSS (see `fcrctl versions list`).",
                   metavar="VERSION", show_default=False),
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (JSON lines for streams).")]
FileOpt = Annotated[
    str | None,
    typer.Option("--file", "-f", help="Read the body from FILE ('-' for stdin).", metavar="FILE", show_default=False),
]
ContentTypeOpt = Annotated[
    str | None,
    typer.Option(
        "--content-type",
        "-t",
        metavar="TYPE",
        help="MIME type or RDF format name of the body (default: guessed from the file name).",
        show_default=False,
    ),
]
MaxRdfBytesOpt = Annotated[
    int,
    typer.Option(
        "--max-rdf-bytes",
        envvar="FCRCTL_MAX_RDF_BYTES",
        min=1,
        metavar="BYTES",
        help="Refuse an RDF or SPARQL body larger than BYTES (it is parsed in memory, at ~80 times its size).",
    ),
]
BinaryOpt = Annotated[bool, typer.Option("--binary", help="Store the body as a binary even if it is RDF.")]
LenientOpt = Annotated[
    bool, typer.Option("--lenient", help="Ignore server-managed triples in the body instead of refusing them.")
]
IfMatchOpt = Annotated[
    str | None,
    typer.Option("--if-match", help="Only if the resource's ETag is ETAG.", metavar="ETAG", show_default=False),
]
IfUnmodifiedSinceOpt = Annotated[
    str | None,
    typer.Option(
        "--if-unmodified-since",
        help="Only if not modified since DATE (ISO 8601 or HTTP date).",
        metavar="DATE",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to FILE instead of stdout.", metavar="FILE", show_default=False),
]
AcceptOpt = Annotated[
    str | None,
    typer.Option(
        "--accept",
        "-a",
        help="RDF format: turtle, ntriples, rdfxml, jsonld, n3 or a MIME type (default: turtle).",
        metavar="FMT",
        show_default=False,
        autocompletion=complete.rdf_formats,
    ),
]
VersionOpt = Annotated[
    str | None, typer.Option("--version", help="Read version V (id, label or memento) instead of the current state.",
                 metavar="V")
]
