"""The ``acl`` commands: get, set, patch, delete, effective (Web Access Control at PATH/fcr:acl)."""

from pathlib import Path
from typing import Annotated, Any

import typer

from fcrctl import paths
from fcrctl.cli import inputs
from fcrctl.cli.context import Cli
from fcrctl.cli.options import AcceptOpt, ContentTypeOpt, JsonOpt, OutputOpt, PathArg
from fcrctl.errors import BadInput

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Read, set and audit access control lists (WebAC, PATH/fcr:acl).")

RootAclOpt = Annotated[
    Path | None,
    typer.Option("--root-acl", help="The root default ACL serve is given (default: only admins).", metavar="FILE"),
]
UserBaseOpt = Annotated[
    str | None, typer.Option("--user-base-uri", help="acl:agent URIs under URI name users.", metavar="URI")
]


def _target(path: str) -> str:
    return paths.split_acl(path)[0] if paths.split_acl(path)[1] else paths.normalize(path)


@app.command("get")
def get(ctx: typer.Context, path: PathArg, accept: AcceptOpt = None, output: OutputOpt = None,
        json_out: JsonOpt = False) -> None:
    """Print PATH's own ACL (exit 4 when it has none: see `acl effective`)."""
    show_acl(Cli.of(ctx, json=json_out), _target(path), accept=accept, output=output)


def show_acl(cli: Cli, target: str, *, accept: str | None = None, output: Path | None = None) -> None:
    """Shared with ``get PATH/fcr:acl``."""
    from fcrctl import rdf

    mime = rdf.resolve_format(accept or ("jsonld" if cli.out.json_mode else "turtle"))
    repo = cli.require("acls", "access control")
    graph = repo.get_acl(target)
    cli.out.data([rdf.serialize(rdf.to_external(graph, repo.base_uri), mime)], output=output)


@app.command("set")
def set_(
    ctx: typer.Context,
    path: PathArg,
    file: Annotated[str, typer.Option("--file", "-f", help="The ACL (RDF; - reads stdin); <> is PATH/fcr:acl.",
                                      metavar="FILE")],
    content_type: ContentTypeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or replace PATH's ACL."""
    put_acl(Cli.of(ctx, json=json_out), _target(path), file, content_type)


def put_acl(cli: Cli, target: str, file: str, content_type: str | None) -> None:
    """Shared with ``put PATH/fcr:acl``: the body is parsed (exit 2 if it does not) before any write."""
    from fcrctl import acl, rdf

    repo = cli.require("acls", "access control")
    cli.writable()
    mime = inputs.content_type(content_type, file) or "text/turtle"
    if not inputs.is_rdf(mime):
        raise BadInput(f"an ACL is RDF, not {mime}: give --content-type turtle (or another RDF format)")
    with inputs.open_input(file) as fh:
        data = fh.read()
    graph = rdf.parse(data, mime, base=acl.acl_id_of(target), source="<stdin>" if file == "-" else file)
    info, created = repo.put_acl(target, graph)
    cli.out.path(info, created=created)


@app.command("patch")
def patch(
    ctx: typer.Context,
    path: PathArg,
    update: Annotated[str, typer.Option("--update", "-e", help="SPARQL Update (or @FILE); <> is PATH/fcr:acl.",
                                        metavar="SPARQL")],
    json_out: JsonOpt = False,
) -> None:
    """Apply a SPARQL Update to PATH's ACL."""
    patch_acl(Cli.of(ctx, json=json_out), _target(path), update)


def patch_acl(cli: Cli, target: str, update: str) -> None:
    repo = cli.require("acls", "access control")
    cli.writable()
    if update.startswith("@"):
        with inputs.open_input(update[1:]) as fh:
            update = fh.read().decode("utf-8", errors="strict")
    cli.out.path(repo.patch_acl(target, update))


@app.command("delete")
def delete(ctx: typer.Context, path: PathArg, json_out: JsonOpt = False) -> None:
    """Remove PATH's own ACL: it inherits from its ancestors again."""
    delete_acl(Cli.of(ctx, json=json_out), _target(path))


def delete_acl(cli: Cli, target: str) -> None:
    repo = cli.require("acls", "access control")
    cli.writable()
    repo.delete_acl(target)
    cli.out.done("deleted", ("" if target == "/" else target) + "/fcr:acl")


@app.command("effective")
def effective(
    ctx: typer.Context,
    path: PathArg,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Also show what user NAME may do.",
                                              metavar="NAME")] = None,
    root_acl: RootAclOpt = None,
    user_base_uri: UserBaseOpt = None,
    auth_file: Annotated[Path | None, typer.Option("--auth-file", help="serve's auth file: its admins bypass ACLs.",
                                                   metavar="FILE")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Judge MOVE and COPY to DST (default: PATH-copy).",
                                           metavar="DST")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Which ACL governs PATH (its own, an ancestor's acl:default, or the root default) and what
    each agent may do there, as `fcrctl serve` decides it."""
    from fcrctl import acl

    cli = Cli.of(ctx, json=json_out)
    repo = cli.require("acls", "access control")
    target = _target(path)
    policy = load_policy(root_acl, user_base_uri)
    eff, roles = policy.roles(repo, target, cached=False)
    agents = {a: sorted(acl.MODE_NAMES.get(m, m) for m in ms) for a, ms in sorted(roles.items())}
    doc: dict[str, Any] = {"path": target, **eff.to_json(), "agents": agents}
    if agent is not None:
        admin = False
        if auth_file is not None:
            from fcrctl.server.auth import read_auth_file

            entry = read_auth_file(auth_file).get(agent)
            admin = entry is not None and entry.admin
        modes = acl.agent_modes(roles, agent)
        doc["agent"] = {"name": agent, "admin": admin,
                        "modes": sorted(acl.MODE_NAMES.get(m, m) for m in modes),
                        "methods": dict.fromkeys(acl.METHODS, True) if admin
                        else policy.methods(repo, agent, target, destination=paths.normalize(to) if to else None)}
    _render(cli, doc)


def _render(cli: Cli, doc: dict[str, Any]) -> None:
    if cli.out.json_mode:
        cli.out.json(doc)
        return
    cli.out.fields([("path", doc["path"]), ("acl", doc["acl"] or "(root default)"), ("from", doc["from"])])
    cli.out.table(((a, ", ".join(ms)) for a, ms in doc["agents"].items()), ("agent", "modes"))
    if "agent" in doc:
        who = doc["agent"]
        allowed = [m for m, ok in who["methods"].items() if ok]
        cli.out.fields([("agent", who["name"] + (" (admin: bypasses ACLs)" if who["admin"] else "")),
                        ("modes", ", ".join(who["modes"]) or "(none)"),
                        ("allowed", " ".join(allowed) or "(nothing)")])


def load_policy(root_acl: Path | None, user_base_uri: str | None) -> Any:
    """The Policy serve uses: the root default from FILE (Turtle unless its suffix says), else admins only."""
    from fcrctl import acl

    if root_acl is None:
        return acl.Policy(user_base_uri=user_base_uri)
    try:
        data = root_acl.read_bytes()
    except OSError as exc:
        raise BadInput(f"--root-acl {root_acl}: {exc.strerror or exc}") from None
    mime = inputs.content_type(None, str(root_acl)) or "text/turtle"
    if not inputs.is_rdf(mime):
        mime = "text/turtle"
    return acl.Policy.from_root_acl(data, user_base_uri=user_base_uri, source=str(root_acl), fmt=mime)
