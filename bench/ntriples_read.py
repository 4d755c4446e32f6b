"""Reading stored N-Triples with one long literal: fcrctl's reader beside rdflib's own, which is
quadratic in line length (issue 20 item 4: 0.25 MB 0.35 s, 1 MB 5.3 s, 2 MB 21 s).

Prints figures; it is not a timed test. Target: linear (time per MB flat as the literal grows).

    python bench/ntriples_read.py [--sizes MB,MB,...] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import time

from fcrctl import rdf


def stored(size: int) -> bytes:
    return b'<info:fedora/a> <http://x/p> "' + b"x" * size + b'" .\n<info:fedora/a> <http://x/q> "y" .\n'


def seconds(read, data: bytes) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    graph = read(data)
    elapsed = time.perf_counter() - start
    assert len(graph) == 2
    return elapsed


def rdflib_reader(data: bytes):  # type: ignore[no-untyped-def]
    graph = rdf.new_graph()
    graph.parse(data=data, format="nt")
    return graph


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.25,0.5,1,2,16", help="literal sizes in MB (rdflib runs up to 1 MB)")
    parser.add_argument("--smoke", action="store_true", help="small sizes: checks the benchmark itself works")
    args = parser.parse_args()
    sizes = [0.05, 0.1] if args.smoke else [float(s) for s in args.sizes.split(",")]
    seconds(rdf.read_ntriples, stored(10))  # imports and first-call set-up are not reading
    seconds(rdflib_reader, stored(10))
    print("reading one stored N-Triples literal (seconds):")
    print(f"  {'MB':>6} {'fcrctl':>9} {'rdflib':>9}")
    for mb in sizes:
        data = stored(int(mb * 1024 * 1024))
        ours = seconds(rdf.read_ntriples, data)
        theirs = f"{seconds(rdflib_reader, data):9.3f}" if mb <= 1 else f"{'(minutes)':>9}"
        print(f"  {mb:6.2f} {ours:9.3f} {theirs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
