"""Importing an export tree (fcrepo-import-export's layout) into any Repository: the passes and their report

Three passes, each streaming (one directory listing and one resource in memory at a time):
1. check: every file is named, encoded, typed and parsed as the format says, before anything is
   written, so bad input leaves the repository exactly as it was; what it read goes to a spool
   (import_spool.py) on disk, so no file is parsed twice;
2. write: resources in tree order (a container before its children), replayed from the spool;
3. (``verify``) compare what the repository now holds with the spool.

The walk is import_tree.py, reading one resource import_read.py (its versions import_versions.py),
writing it import_write.py, comparing it afterwards import_verify.py.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from fcrctl import paths
from fcrctl.errors import BadInput, FcrctlError, PartialFailure
from fcrctl.repository.base import Repository
from fcrctl.services.transfer.import_memory import fixed_mmap_threshold
from fcrctl.services.transfer.import_read import Prepared, ResourceReader
from fcrctl.services.transfer.import_spool import Spool, pack
from fcrctl.services.transfer.import_tree import Entry, ExportTree
from fcrctl.services.transfer.import_verify import difference
from fcrctl.services.transfer.import_write import Writer
from fcrctl.services.transfer.report import Report
from fcrctl.services.transfer.source import Source

# OCFL versions per durable commit locally (a resource with its history counts each: what a batch
# holds in memory is its versions): what a crash may cost (--resume redoes it)
BATCH = 1000
BATCH_BYTES = 256 << 20  # ...and binary bytes: big binaries are committed a few at a time



@dataclass
class ImportOptions:
    dest: str = "/"
    old_base: str | None = None  # the export's base URL (--map); detected when None
    dry_run: bool = False
    jobs: int = 1
    resume: bool = False
    skip_tombstones: bool = False
    overwrite_tombstones: bool = False
    versions: bool = True
    acls: bool = True
    binaries: bool = True
    verify: bool = False


class Importer:
    def __init__(self, repo: Repository, source: Source, options: ImportOptions,
                 on_item: Callable[[str], None] | None = None) -> None:
        self.repo = repo
        self.options = options
        self.on_item = on_item or (lambda path: None)
        self.report = Report("dry-run" if options.dry_run else "import")
        self.tree = ExportTree(source.root, paths.normalize(options.dest), options.old_base, self.report)
        self.reader = ResourceReader(self.tree, source, binaries=options.binaries, versions=options.versions,
                                     acls=options.acls)
        self.writer = Writer(repo, self.report, resume=options.resume, skip_tombstones=options.skip_tombstones,
                             overwrite_tombstones=options.overwrite_tombstones)
        for warning in source.warnings:
            self.report.note(warning)

    def run(self, transaction: bool = False) -> Report:
        fixed_mmap_threshold()  # memory flat with the import's length (import_memory.py)
        self.tree.detect_base(self.reader.parse)
        self.reader.checking = self.options.dry_run
        with Spool() as spool:
            self._check(spool)  # pass 1: nothing is written unless all of it reads
            if self.options.dry_run:
                return self.report.finish()
            batch = getattr(self.repo, "batch", None)
            if transaction:
                self._in_transaction(spool)
            elif batch is not None:
                self._write_batched(spool, batch())
            else:
                self._write_all(self.repo, spool)
            if self.writer.histories_not_carried:
                self.report.note(f"{self.writer.histories_not_carried} resources have versions in the export that "
                                 "this repository cannot take with their dates: their current state was imported")
            if self.options.verify:
                self._verify_all(spool)
        return self.report.finish()

    def _check(self, spool: Spool) -> None:
        """Read every resource into the spool (a dry run only counts them), on --jobs processes."""
        workers = min(self.options.jobs, os.cpu_count() or 1)
        if workers < 2:
            for entry in self.tree.entries():
                if entry is not None and self.options.dry_run:
                    self.reader.prepare(entry)
                    self.report.done(entry.kind)
                elif not self.options.dry_run:
                    spool.add(None if entry is None else self.reader.prepare(entry))
            return
        from fcrctl import forked

        global _READER
        _READER = self.reader  # what the forked workers read with
        try:
            with forked.pool(workers) as pool:
                # chunks in order, a few per worker ahead: the workers read while this process
                # walks the tree and spools what they read, and memory stays flat
                for results in forked.ordered(pool, _prepare, _chunks(self.tree.entries()), self.options.dry_run,
                                              ahead=4 * workers):
                    for result in results:
                        if self.options.dry_run:
                            if result is not None:
                                self.report.done(result[0])
                        elif result is None:
                            spool.add(None)
                        else:
                            spool.add_packed(result[1])
        finally:
            _READER = None

    def _write_all(self, repo: Repository, spool: Spool) -> None:
        pending: list[Future[None]] = []
        pool = ThreadPoolExecutor(self.options.jobs) if self.options.jobs > 1 else None
        try:
            for prepared in spool.replay():
                if prepared is None:  # a directory's files are done before its subdirectories start
                    _drain(pending)
                    continue
                if pool is None:
                    self._one(prepared, repo)
                else:
                    pending.append(pool.submit(self._one, prepared, repo))
                    if len(pending) >= self.options.jobs * 4:
                        _drain(pending)
            _drain(pending)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _write_batched(self, spool: Spool, batch: Any) -> None:
        """Locally: many resources per durable commit (a crash keeps or loses each batch whole, and
        --resume finishes), in tree order; what a batch cannot take is written the ordinary way."""
        pending: dict[str, tuple[str, int, list[str]]] = {}  # staged, not committed: path -> (kind, bytes, extras)
        staged_bytes = 0

        def commit() -> None:
            nonlocal staged_bytes
            staged_bytes = 0
            try:
                batch.commit()  # with nothing staged, it only lets go of the writer lock
            except FcrctlError as exc:
                for path in pending:
                    self.report.fail(path, exc.message)
                    self.on_item(path)
            else:
                for path, (kind, size, extras) in pending.items():
                    self.report.done(kind, size)
                    for extra in extras:
                        self.report.done(extra)
                    self.on_item(path)
            pending.clear()

        try:
            for prepared in spool.replay():
                if prepared is None:
                    continue  # the batch refuses a child whose parent it holds: order is kept anyway
                if not self.writer.batchable(prepared):
                    commit()
                    self._one(prepared, self.repo)
                    continue
                entry, outcome = prepared.entry, "refused"
                try:
                    outcome = self.writer.stage(prepared, batch)
                    if outcome == "refused" and pending:
                        commit()  # most often a parent is in the batch: committed, the child fits
                        outcome = self.writer.stage(prepared, batch)
                except FcrctlError as exc:
                    self.report.fail(entry.path, exc.message)
                    self.on_item(entry.path)
                    continue
                if outcome == "staged":
                    assert prepared.current is not None
                    pending[entry.path] = (entry.kind, prepared.current.size, self.writer.extras(prepared))
                    staged_bytes += prepared.current.size
                    if batch.versions >= BATCH or staged_bytes >= BATCH_BYTES:
                        commit()
                elif outcome == "skipped":
                    self.on_item(entry.path)
                else:
                    commit()
                    self._one(prepared, self.repo)
            commit()
        finally:
            batch.discard()

    def _one(self, prepared: Prepared, repo: Repository) -> None:
        try:
            self.writer.write(prepared, repo)
        except FcrctlError as exc:
            self.report.fail(prepared.entry.path, exc.message)
        self.on_item(prepared.entry.path)

    def _in_transaction(self, spool: Spool) -> None:
        if not self.repo.capabilities.transactions:
            raise BadInput(f"--tx: {self.repo.location} has no transactions")
        repo: Any = self.repo
        tx = repo.begin_transaction()
        view = repo.in_transaction(tx.id)
        try:
            self._write_all(view, spool)
        except BaseException:
            with contextlib.suppress(FcrctlError):
                repo.rollback_transaction(tx.id)
            raise
        if self.report.failed_count:
            repo.rollback_transaction(tx.id)
            self.report.note("--tx: something failed, so the transaction was rolled back: nothing was imported")
            self.report.counts.clear()
            return
        repo.commit_transaction(tx.id)

    def _verify_all(self, spool: Spool) -> None:
        differences = 0
        for prepared in spool.replay():
            if prepared is None:
                continue
            problem = difference(self.repo, prepared)
            if problem:
                differences += 1
                self.report.fail(prepared.entry.path, f"verify: {problem}")
        self.report.note(f"verify: {differences} differences between the repository and the export")


_READER: ResourceReader | None = None
CHUNK = 64  # entries handed to a --jobs worker at a time


def _chunks(entries: Iterator[Entry | None]) -> Iterator[list[Entry | None]]:
    chunk: list[Entry | None] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _prepare(chunk: list[Entry | None], dry_run: bool) -> list[tuple[str, bytes] | None]:
    """In a forked worker: resources read and packed for the spool ((kind, record); None: a barrier)."""
    assert _READER is not None
    return [None if entry is None else (entry.kind, b"" if dry_run else pack(_READER.prepare(entry)))
            for entry in chunk]


def _drain(pending: list[Future[None]]) -> None:
    if pending:
        wait(pending)
        for future in pending:
            future.result()
        pending.clear()


def run(repo: Repository, source: Source, options: ImportOptions, *, transaction: bool = False,
        on_item: Callable[[str], None] | None = None) -> Report:
    importer = Importer(repo, source, options, on_item)
    report = importer.run(transaction=transaction)
    if report.failed_count and options.dry_run:
        raise PartialFailure(f"dry run: {report.failed_count} problems")
    return report
