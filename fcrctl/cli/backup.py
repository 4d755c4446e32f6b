"""Backup commands: backup, list-backups, restore, delete-backup, verify-backup, prune-backups,
upload-backup, download-backup. Each parses, calls one service, renders.

Long because typer wants every command's options spelled in its own signature (eight commands).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from fcrctl.cli import complete
from fcrctl.cli.context import Cli, data_home
from fcrctl.cli.options import JsonOpt
from fcrctl.cli.output import human_size
from fcrctl.cli.store_options import (
    AwsProfileOpt,
    EndpointOpt,
    HeaderFileOpt,
    StorageClassOpt,
    StoreCredentialsOpt,
    store_options,
)
from fcrctl.errors import BadInput, CorruptData, Interrupted, PartialFailure, ReadOnly

IdArg = Annotated[str, typer.Argument(help="Backup id (see `fcrctl list-backups`).", metavar="ID", show_default=False,
                                      autocompletion=complete.backup_ids)]
StoreArg = Annotated[str, typer.Argument(
    help="Backup store: a directory, file://, s3://bucket/prefix, azure://container/prefix or https:// WebDAV.",
    metavar="STORE", show_default=False)]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="Work on the backups in STORE instead of local ones.", metavar="STORE")
]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, max=64, help="Parallel transfers.")]
DEFAULT_MAX_UNUSED = 5.0  # restic's default: repack a pack once more than 5% of it is unused
MaxUnusedOpt = Annotated[float, typer.Option(
    "--max-unused", min=0, max=100, metavar="PERCENT",
    help="Stores: repack packs of which more than PERCENT is no longer used by any backup.")]
FullSweepOpt = Annotated[bool, typer.Option(
    "--full-sweep", help="Stores: read every remaining manifest to find what is free, not only what the removed "
                         "ones named (also frees what killed uploads left).")]
LockTimeoutOpt = Annotated[
    float, typer.Option("--lock-timeout", min=0, help="Seconds to wait for the writer lock.", metavar="SECONDS")
]


def _record_home(cli: Cli) -> Any:
    """The backups directory verify --from keeps its record in, if there is a repository."""
    from fcrctl.errors import FcrctlError

    try:
        return _home(cli).root
    except FcrctlError:
        return None


def _home(cli: Cli) -> Any:
    from fcrctl.services.backup.snapshot import BackupHome, home_for

    return BackupHome(home_for(cli.repo, data_home()))


def _store(url: str, options: dict[str, Any], *, create: bool = False) -> Any:
    from fcrctl.services.backup.stores import open_store

    return open_store(url, create=create, **options)


def _show(cli: Cli, info: Any, **extra: Any) -> None:
    doc = {**info.to_json(), **extra}
    if cli.out.json_mode:
        cli.out.json(doc)
        return
    if cli.out.quiet:  # -q: the result only, for `id=$(fcrctl -q backup)`
        cli.out.line(info.id)
        return
    upload = doc.pop("upload", None)
    rows = [(k, _human(v)) for k, v in doc.items() if k != "bytes"]
    rows.insert(6, ("bytes", f"{info.bytes} ({human_size(info.bytes)})"))
    cli.out.fields(rows)
    if upload is not None:
        cli.out.line(_uploaded(upload))


def _human(value: Any) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _uploaded(report: dict[str, Any]) -> str:
    return (f"uploaded {report['id']}: {report['blobs_sent']} blobs sent ({human_size(report['bytes_written'])}), "
            f"{report['blobs_reused']} already there, {report['seconds']:.1f} s")


def backup(
    ctx: typer.Context,
    directory: Annotated[
        str | None, typer.Argument(help="With --server-side: the directory on the server.", metavar="[DIR]")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", "-l", help="Label (letters, digits, . _ -).")] = None,
    lock_timeout: LockTimeoutOpt = 120.0,
    allow_inconsistent: Annotated[
        bool, typer.Option("--allow-inconsistent", help="After a lock timeout, back up anyway and mark it so.")
    ] = False,
    to: Annotated[str | None, typer.Option("--to", help="Also upload it to STORE.", metavar="STORE")] = None,
    read_data: Annotated[
        bool, typer.Option("--read-data", help="With --to: re-read and hash every file, not only changed ones.")
    ] = False,
    server_side: Annotated[
        bool, typer.Option("--server-side", help="Ask the server for its own backup (POST fcr:backup).")
    ] = False,
    jobs: JobsOpt = 4,
    endpoint_url: EndpointOpt = None,
    aws_profile: AwsProfileOpt = None,
    store_credentials: StoreCredentialsOpt = None,
    header_file: HeaderFileOpt = None,
    storage_class: StorageClassOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take a consistent snapshot of the repository (a crawl for a remote server)."""
    from fcrctl.services.backup import crawl, restore, snapshot
    from fcrctl.services.backup import server_side as remote

    cli = Cli.of(ctx, json=json_out)
    if label is not None:
        snapshot.check_label(label)
    if server_side:
        doc = remote.request_backup(cli.repo, directory)
        cli.out.json(doc) if cli.out.json_mode else cli.out.line(doc["directory"])
        return
    if directory is not None:
        raise BadInput("DIR is only for --server-side; use --to STORE to copy the backup to a store")
    if read_data and not to:
        raise BadInput("--read-data goes with --to STORE: a snapshot alone reads no content (verify-backup does)")
    opts = store_options(cli, endpoint_url, aws_profile, store_credentials, header_file, storage_class)
    store = _store(to, opts, create=True) if to else None
    home = _home(cli)
    if isinstance(cli.repo, snapshot.Snapshottable):
        if not cli.repo.capabilities.writable:
            raise ReadOnly(f"repository {cli.repo.location} is read-only: a snapshot is recorded in its backups/ "
                           "directory, which needs write access")
        restore.finish_interrupted(cli.repo, home)
        info = snapshot.take(cli.repo, home, label=label, lock_timeout=lock_timeout,
                             allow_inconsistent=allow_inconsistent)
    else:
        with cli.out.progress(None) as advance:
            info = crawl.crawl(cli.repo, home, label=label, jobs=jobs, progress=advance)
    if info.potentially_inconsistent:
        cli.out.warn(f"backup {info.id} is potentially inconsistent (writes may have run while it was taken)")
    extra: dict[str, Any] = {}
    if store is not None:
        extra["upload"] = _upload(cli, home, info.id, store, jobs, read_data).to_json()
    _show(cli, info, **extra)


def _upload(cli: Cli, home: Any, backup_id: str, store: Any, jobs: int, read_data: bool = False) -> Any:
    from fcrctl.services.backup import manifest

    with _transfer(cli, home, "upload", backup_id, store, home.get(backup_id).bytes) as (advance, tracker):
        report = manifest.upload(home, backup_id, store, jobs=jobs, progress=advance, read_data=read_data)
        tracker.transfer.summary = report.to_json()
    return report


def _download(cli: Cli, home: Any, backup_id: str, store: Any, jobs: int) -> Any:
    from fcrctl.services.backup import manifest

    with _transfer(cli, home, "download", backup_id, store, None) as (advance, tracker):
        report = manifest.download(store, backup_id, home, jobs=jobs, progress=advance)
        tracker.transfer.summary = report.to_json()
    return report


@contextlib.contextmanager
def _transfer(cli: Cli, home: Any, kind: str, backup_id: str, store: Any, total: int | None) -> Iterator[Any]:
    """A progress bar (on a terminal) and the transfer's record in the home (`fcrctl transfers`)."""
    from fcrctl.services.backup import transfers

    with cli.out.progress(total) as bar, transfers.track(home.root, kind, backup_id, store.location, total) as t:
        def advance(n: int) -> None:
            bar(n)
            t.advance(n)

        yield advance, t


def list_backups(
    ctx: typer.Context,
    backup_id: Annotated[str | None, typer.Argument(help="Show this backup only.", metavar="[ID]",
                                                    autocompletion=complete.backup_ids)] = None,
    source: FromOpt = None,
    endpoint_url: EndpointOpt = None,
    aws_profile: AwsProfileOpt = None,
    store_credentials: StoreCredentialsOpt = None,
    header_file: HeaderFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List backups: id, time, label, resources, size, consistency."""
    from fcrctl.services.backup import manifest

    cli = Cli.of(ctx, json=json_out)
    if source is not None:
        store = _store(source, store_options(cli, endpoint_url, aws_profile, store_credentials, header_file))
        if backup_id is not None:
            info, objects = manifest.read_manifest(store, backup_id)
            objects.close()
            return _show(cli, info)
        backups = manifest.list_store(store)
    else:
        home = _home(cli)
        if backup_id is not None:
            return _show(cli, home.get(backup_id))
        backups = home.list()
    if cli.out.json_mode:
        cli.out.json([b.to_json() for b in backups])
        return
    rows = [(b.id, b.datetime[:19] + "Z", b.label, str(b.resources), human_size(b.bytes),
             "no" if b.potentially_inconsistent else "yes") for b in backups]
    cli.out.table(rows, ("id", "datetime", "label", "resources", "size", "consistent"),
                  empty="no backups yet (take one with: fcrctl backup)")


def _confirm(cli: Cli, yes: bool, what: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty() or cli.out.json_mode:
        raise BadInput(f"{what}: this replaces repository content; confirm with --yes when not interactive")
    if not typer.confirm(f"{what}? The current state is kept as a fail-safe backup.", default=False):
        raise Interrupted("restore cancelled, nothing changed")


def restore(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="Backup id (with --server-side: the server's directory).",
                                             metavar="ID|DIR", show_default=False,
                                             autocompletion=complete.backup_ids)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    source: FromOpt = None,
    path: Annotated[str | None, typer.Option("--path", help="Restore only this subtree.", metavar="PATH")] = None,
    server_side: Annotated[
        bool, typer.Option("--server-side", help="Ask the server to restore its directory DIR (fcr:restore).")
    ] = False,
    lock_timeout: LockTimeoutOpt = 120.0,
    jobs: JobsOpt = 4,
    endpoint_url: EndpointOpt = None,
    aws_profile: AwsProfileOpt = None,
    store_credentials: StoreCredentialsOpt = None,
    header_file: HeaderFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace the repository's content with a backup's, keeping a fail-safe backup first."""
    from fcrctl import paths
    from fcrctl.services.backup import manifest, snapshot, tree
    from fcrctl.services.backup import restore as service
    from fcrctl.services.backup import server_side as remote

    cli = Cli.of(ctx, json=json_out)
    if server_side:
        _confirm(cli, yes, f"restore {cli.repo.location} from the server's {backup_id}")
        doc = remote.request_restore(cli.repo, backup_id)
        cli.out.json(doc) if cli.out.json_mode else cli.out.line(f"restored {backup_id}")
        return
    subtree = paths.normalize(path) if path else "/"
    home = _home(cli)
    snapshot.check_id(backup_id)
    local = isinstance(cli.repo, snapshot.Snapshottable)
    if local:
        service.finish_interrupted(cli.repo, home)
    opts = store_options(cli, endpoint_url, aws_profile, store_credentials, header_file)
    store = _store(source, opts) if source is not None else None
    if store is not None:  # --from reads the store, whatever is local: local snapshots share the live files
        manifest.read_manifest(store, backup_id)[1].close()  # unknown id: fail before asking
    else:
        home.get(backup_id)
    _confirm(cli, yes, f"restore {subtree} of {cli.repo.location} from {backup_id}")
    with contextlib.ExitStack() as stack:
        downloaded = None
        if store is not None:
            staged = stack.enter_context(tree.staging_dir(home.root))
            with cli.out.progress(None) as advance:  # every blob verified before anything is touched
                info, _ = manifest.download_into(store, backup_id, staged, jobs=jobs, progress=advance)
            downloaded = (info, staged)
        if local and subtree == "/":
            result = service.restore(cli.repo, home, backup_id, lock_timeout=lock_timeout, downloaded=downloaded)
            doc = result.to_json()
        else:
            doc = _restore_by_replay(cli, home, backup_id, subtree, jobs, lock_timeout, downloaded)
    _render_restore(cli, doc)


def _restore_by_replay(cli: Cli, home: Any, backup_id: str, subtree: str, jobs: int, lock_timeout: float,
                       downloaded: tuple[Any, Path] | None) -> dict[str, Any]:
    """A partial restore, or any restore into a remote server: the fail-safe backup taken once
    the snapshot is known to hold ``subtree`` with sound content, then the subtree replayed."""
    from fcrctl.services.backup import crawl, snapshot
    from fcrctl.services.backup import restore as service
    from fcrctl.services.backup.snapshot import TREE

    service.refuse_open_transactions(cli.repo)
    previous: list[Any] = []

    def failsafe() -> None:
        if isinstance(cli.repo, snapshot.Snapshottable):
            previous.append(snapshot.take(cli.repo, home, label="previous", lock_timeout=lock_timeout,
                                          kind="failsafe", unique=True))
        else:
            previous.append(crawl.crawl(cli.repo, home, label="previous", jobs=jobs, failsafe=True))
        cli.out.note(f"fail-safe backup of the current state: {previous[0].id}")

    tree_root = downloaded[1] / TREE if downloaded else None
    if isinstance(cli.repo, snapshot.Snapshottable):  # whole objects: versions and recorded digests kept
        from fcrctl.services.backup import partial

        done = partial.restore_objects(cli.repo, home, backup_id, subtree, tree_root=tree_root,
                                       lock_timeout=lock_timeout, before_changes=failsafe)
        if done is not None:
            return {**done, "previous": previous[0].id}
    _, report = crawl.restore_remote(cli.repo, home, backup_id, path=subtree, jobs=jobs, before_changes=failsafe,
                                     tree_root=tree_root)
    doc = {"restored": backup_id, "previous": previous[0].id, "path": subtree, **report.to_json()}
    if report.failures:
        _render_restore(cli, doc)
        raise PartialFailure(f"{len(report.failures)} resources were not restored (first: "
                             f"{report.failures[0][0]}); the fail-safe backup is {previous[0].id}")
    return doc


def _render_restore(cli: Cli, doc: dict[str, Any]) -> None:
    if cli.out.json_mode:
        cli.out.json(doc)
    else:
        cli.out.line(f"restored {doc['restored']} ({doc.get('path', '/')}); previous state kept as {doc['previous']}")


def delete_backup(
    ctx: typer.Context,
    backup_id: IdArg,
    source: FromOpt = None,
    max_unused: MaxUnusedOpt = DEFAULT_MAX_UNUSED,
    endpoint_url: EndpointOpt = None,
    aws_profile: AwsProfileOpt = None,
    store_credentials: StoreCredentialsOpt = None,
    header_file: HeaderFileOpt = None,
    json_out: JsonOpt = False,
    full_sweep: FullSweepOpt = False,
) -> None:
    """Delete a backup (from a store: its manifest and the blobs no other backup uses)."""
    from fcrctl.services.backup import manifest

    cli = Cli.of(ctx, json=json_out)
    if source:
        store = _store(source, store_options(cli, endpoint_url, aws_profile, store_credentials, header_file))
        [info] = manifest.delete_from_store(store, backup_id, max_unused=max_unused, home=_record_home(cli),
                                            full_sweep=full_sweep)
    else:
        [info] = _home(cli).delete(backup_id)
    cli.out.done("deleted", info.id)


def verify_backup(
    ctx: typer.Context,
    backup_id: IdArg,
    read_data: Annotated[bool, typer.Option("--read-data", help="Re-hash every file against its sha512.")] = False,
    source: FromOpt = None,
    jobs: JobsOpt = 4,
    endpoint_url: EndpointOpt = None,
    aws_profile: AwsProfileOpt = None,
    store_credentials: StoreCredentialsOpt = None,
    header_file: HeaderFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a backup's structure and inventories (--read-data: every file's digest)."""
    from fcrctl.services.backup import verify, verify_stored

    cli = Cli.of(ctx, json=json_out)
    if source:
        with cli.out.progress(None) as advance:
            store = _store(source, store_options(cli, endpoint_url, aws_profile, store_credentials, header_file))
            report = verify_stored.verify_store(store, backup_id, read_data=read_data, jobs=jobs,
                                                progress=advance, home=_record_home(cli))
    else:
        report = verify.verify_local(_home(cli), backup_id, read_data=read_data)
    if cli.out.json_mode:
        cli.out.json(report.to_json())
    else:
        if report.problems:
            cli.out.table([(p.where, p.message) for p in report.problems], ("resource", "problem"))
        speed = f", {report.mb_per_s:.0f} MB/s" if read_data else ""
        unused = ""
        if report.unreferenced_bytes:
            unused = (f"; the store holds {human_size(report.unreferenced_bytes)} no backup uses "
                      f"(freed by delete-backup/prune-backups --from)")
        cli.out.line(f"verified {report.id}: {report.objects} objects, {report.files} files, "
                     f"{_problems(len(report.problems))}{speed}{unused}")
    if report.problems:
        first = report.problems[0]
        raise CorruptData(f"backup {report.id} is damaged: {_problems(len(report.problems))} (first: {first.where}: "
                          f"{first.message})")


def _problems(count: int) -> str:
    return f"{count} problem" if count == 1 else f"{count} problems"


def prune_backups(
    ctx: typer.Context,
    keep_last: Annotated[int, typer.Option("--keep-last", min=0, help="Keep the N newest.")] = 0,
    keep_daily: Annotated[int, typer.Option("--keep-daily", min=0, help="Keep the newest of N days.")] = 0,
    keep_weekly: Annotated[int, typer.Option("--keep-weekly", min=0, help="Keep the newest of N weeks.")] = 0,
    keep_monthly: Annotated[int, typer.Option("--keep-monthly", min=0, help="Keep the newest of N months.")] = 0,
    keep_failsafe: Annotated[
        int, typer.Option("--keep-failsafe", min=0, help="Keep the N newest fail-safe backups (taken by restores).")
    ] = 1,
    group_by: Annotated[
        str, typer.Option("--group-by", help="Apply the rules per label, or to all backups at once (none).",
                          metavar="label|none")
    ] = "label",
    label: Annotated[str | None, typer.Option("--label", "-l", help="Consider only backups with this label.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Only say what would be removed.")] = False,
    source: FromOpt = None,
    max_unused: MaxUnusedOpt = DEFAULT_MAX_UNUSED,
    endpoint_url: EndpointOpt = None,
    aws_profile: AwsProfileOpt = None,
    store_credentials: StoreCredentialsOpt = None,
    header_file: HeaderFileOpt = None,
    json_out: JsonOpt = False,
    full_sweep: FullSweepOpt = False,
) -> None:
    """Delete backups that no retention rule keeps (never the newest of a label)."""
    from fcrctl.services.backup import manifest, prune

    cli = Cli.of(ctx, json=json_out)
    opts = store_options(cli, endpoint_url, aws_profile, store_credentials, header_file)
    store = _store(source, opts) if source else None
    home = None if store else _home(cli)
    backups = manifest.list_store(store) if store else home.list()
    plan = prune.plan(backups, prune.Policy(keep_last, keep_daily, keep_weekly, keep_monthly), group_by=group_by,
                      label=label, failsafe=keep_failsafe)
    if not dry_run and (plan.remove or (store and full_sweep)):
        ids = [b.id for b in plan.remove]
        if store:
            manifest.delete_from_store(store, *ids, max_unused=max_unused, home=_record_home(cli),
                                       full_sweep=full_sweep)
        else:
            home.delete(*ids)
    if cli.out.json_mode:
        cli.out.json({**plan.to_json(), "dryRun": dry_run})
        return
    for b, reasons in plan.keep:
        cli.out.line(f"keep   {b.id}  ({', '.join(reasons)})")
    for b in plan.remove:
        cli.out.line(f"{'would remove' if dry_run else 'remove'} {b.id}")


def upload_backup(
    ctx: typer.Context, backup_id: IdArg, store: StoreArg, jobs: JobsOpt = 4,
    read_data: Annotated[bool, typer.Option("--read-data", help="Re-read and hash every file, not only changed ones.")
                         ] = False,
    endpoint_url: EndpointOpt = None,
    aws_profile: AwsProfileOpt = None,
    store_credentials: StoreCredentialsOpt = None,
    header_file: HeaderFileOpt = None,
    storage_class: StorageClassOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Send a local backup to a store (only what the store lacks; resumable)."""
    cli = Cli.of(ctx, json=json_out)
    opts = store_options(cli, endpoint_url, aws_profile, store_credentials, header_file, storage_class)
    report = _upload(cli, _home(cli), backup_id, _store(store, opts, create=True), jobs, read_data)
    if cli.out.json_mode:
        cli.out.json(report.to_json())
    else:
        cli.out.line(_uploaded(report.to_json()))


def download_backup(
    ctx: typer.Context,
    backup_id: IdArg,
    store: StoreArg,
    jobs: JobsOpt = 4,
    endpoint_url: EndpointOpt = None,
    aws_profile: AwsProfileOpt = None,
    store_credentials: StoreCredentialsOpt = None,
    header_file: HeaderFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fetch a backup from a store into the local backups (every blob verified)."""
    cli = Cli.of(ctx, json=json_out)
    source = _store(store, store_options(cli, endpoint_url, aws_profile, store_credentials, header_file))
    report = _download(cli, _home(cli), backup_id, source, jobs)
    if cli.out.json_mode:
        cli.out.json(report.to_json())
    else:
        cli.out.line(f"downloaded {report.id}: {report.files} files, {report.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("list-backups")(list_backups)
    app.command("restore")(restore)
    app.command("delete-backup")(delete_backup)
    app.command("verify-backup")(verify_backup)
    app.command("prune-backups")(prune_backups)
    app.command("upload-backup")(upload_backup)
    app.command("download-backup")(download_backup)
