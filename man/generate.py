"""Regenerate man/fcrctl.1 and one page per command (man/fcrctl-backup.1, ...) from the typer
app: python man/generate.py [--check]

Commands and options come from the app itself, so the pages cannot drift from the CLI; the
exit codes come from fcrctl.errors.ExitCode. --check exits 1 when a page is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from fcrctl import __version__
from fcrctl.cli.main import BROKEN_PIPE, app
from fcrctl.errors import ExitCode

HERE = Path(__file__).parent
PAGE = HERE / "fcrctl.1"
EXIT_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.UNEXPECTED: "unexpected error (a bug, or an unclassified failure; rerun with --traceback)",
    ExitCode.BAD_INPUT: "usage error or bad input (malformed RDF, bad path, unknown format, read-only repository)",
    ExitCode.PARTIAL: "partial failure (some items of a batch failed)",
    ExitCode.NOT_FOUND: "no such resource",
    ExitCode.GONE: "the resource was deleted; a tombstone remains (see purge)",
    ExitCode.CONFLICT: "conflict (exists already, interaction model change, server-managed triples, not empty)",
    ExitCode.PRECONDITION_FAILED: "--if-match / --if-unmodified-since not met; nothing changed",
    ExitCode.CORRUPT: "checksum mismatch or corrupt data (fixity failure)",
    ExitCode.UNSUPPORTED: "the repository cannot do this (see its capabilities)",
    ExitCode.NOT_A_REPOSITORY: "--repo is not a repository (create one with fcrctl init)",
    ExitCode.LOCKED: "the repository is locked by another writer",
    ExitCode.AUTH: "authentication failed or not allowed",
    ExitCode.UNAVAILABLE: "server unreachable or failing (5xx, timeout, TLS)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


def esc(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def options_of(command: Any, ctx: Any) -> list[str]:
    out: list[str] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        names = names.replace(" <str>", "")  # typer appends the Python type to arguments
        out += [".TP", f"\\fB{esc(names)}\\fR", esc(help_text or "")]
    return out


def build() -> str:
    root = typer.main.get_command(app)
    root_ctx = root.make_context("fcrctl", [], resilient_parsing=True)
    lines = [
        f'.TH FCRCTL 1 "" "fcrctl {__version__}" "User Commands"',
        ".SH NAME",
        "fcrctl \\- administer Fedora Commons / LDP repositories (local OCFL or remote Fedora over HTTP)",
        ".SH SYNOPSIS",
        "\\fBfcrctl\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        esc(root.help or ""),
        "Without \\fB\\-\\-repo\\fR, \\fBFCRCTL_REPO\\fR or a profile, fcrctl uses the local repository in "
        "\\fI$XDG_DATA_HOME/fcrctl/repository\\fR, creating it on first use.",
        ".SH GLOBAL OPTIONS",
        *options_of(root, root_ctx),
        ".SH COMMANDS",
    ]
    for name, command in _walk(root, root_ctx, "fcrctl"):
        ctx = command.make_context(name.split()[-1], [], parent=root_ctx, resilient_parsing=True)
        usage = " ".join(command.collect_usage_pieces(ctx))
        lines += [".SS " + esc(name[len("fcrctl ") :] + " " + usage), esc(command.help or "")]
        lines += options_of(command, ctx)
    lines += [".SH EXIT STATUS", "Exit codes are stable public API."]
    for code, meaning in EXIT_MEANINGS.items():
        lines += [".TP", f"\\fB{int(code)}\\fR", esc(meaning)]
    lines += [".TP", f"\\fB{BROKEN_PIPE}\\fR", "stdout was closed early (broken pipe), as for other Unix tools"]
    lines += [
        ".SH ENVIRONMENT",
        ".TP\n\\fBFCRCTL_REPO\\fR\nRepository path or URL (as \\-\\-repo).",
        ".TP\n\\fBFCRCTL_PROFILE\\fR\nProfile name (as \\-\\-profile).",
        ".TP\n\\fBFCRCTL_USER\\fR, \\fBFCRCTL_PASSWORD\\fR, \\fBFCRCTL_TOKEN\\fR\nHTTP credentials. "
        "There is no password option: passwords come from FCRCTL_PASSWORD, \\-\\-password\\-file, ~/.netrc "
        "or a prompt, and are never printed.",
        ".TP\n\\fBFCRCTL_TX\\fR\nRun every command inside this transaction (as \\-\\-tx; see \\fBfcrctl tx begin\\fR).",
        ".TP\n\\fBFCRCTL_TRACEBACK\\fR\nSet to 1 to show full tracebacks (as \\-\\-traceback).",
        ".TP\n\\fBNO_COLOR\\fR\nSet to anything to print no colour or bold escapes on a terminal.",
        ".TP\n\\fBXDG_DATA_HOME\\fR, \\fBXDG_CONFIG_HOME\\fR\nLocation of the default repository and of the "
        "configuration file.",
        ".SH FILES",
        ".TP\n\\fI$XDG_CONFIG_HOME/fcrctl/config.toml\\fR\nProfiles: tables \\fB[profiles.NAME]\\fR with keys "
        "repo, user, api, password_file, token_file, ca_bundle, insecure, timeout. "
        "\\fB[profiles.default]\\fR applies when no profile is named.",
        ".TP\n\\fI$XDG_DATA_HOME/fcrctl/repository\\fR\nThe default local repository (an OCFL storage root "
        "in Fedora 6 layout plus a rebuildable SQLite index).",
        ".SH EXAMPLES",
        ".nf",
        "fcrctl create /books",
        "fcrctl create /books/moby \\-\\-file moby.ttl",
        "fcrctl create /books/moby/pdf \\-\\-file moby.pdf \\-\\-digest sha256=...",
        "fcrctl get /books/moby \\-\\-accept jsonld",
        "fcrctl \\-\\-repo https://fedora.example.org/rest \\-\\-user admin ls \\-R /",
        ".fi",
        ".SH SEE ALSO",
        ", ".join(f"\\fB{esc(page[:-2])}\\fR(1)" for page in sorted(command_pages(root, root_ctx))) + ";",
        "README.md in the fcrctl sources.",
    ]
    return "\n".join(lines) + "\n"


def command_pages(root: Any, root_ctx: Any) -> dict[str, str]:
    """``fcrctl-NAME.1`` -> its page, one per top-level command (a group's page holds its subcommands)."""
    pages: dict[str, str] = {}
    for name in root.list_commands(root_ctx):
        command = root.get_command(root_ctx, name)
        if command is None or command.hidden:
            continue
        if hasattr(command, "list_commands"):
            sub_ctx = command.make_context(name, [], parent=root_ctx, resilient_parsing=True)
            members = _walk(command, sub_ctx, f"fcrctl {name}")
        else:
            members = [(f"fcrctl {name}", command)]
        summary = (command.help or "").split("\n")[0].rstrip(".")
        lines = [
            f'.TH FCRCTL\\-{esc(name.upper())} 1 "" "fcrctl {__version__}" "User Commands"',
            ".SH NAME",
            f"fcrctl\\-{esc(name)} \\- {esc(summary[:1].lower() + summary[1:])}",
            ".SH SYNOPSIS",
        ]
        for full, member in members:
            ctx = member.make_context(full.split()[-1], [], parent=root_ctx, resilient_parsing=True)
            usage = " ".join(member.collect_usage_pieces(ctx))
            lines += [f"\\fBfcrctl\\fR [\\fIGLOBAL OPTIONS\\fR] \\fB{esc(full[7:])}\\fR {esc(usage)}", ".br"]
        lines += [".SH DESCRIPTION"]
        for full, member in members:
            ctx = member.make_context(full.split()[-1], [], parent=root_ctx, resilient_parsing=True)
            if len(members) > 1:
                lines += [".SS " + esc(full)]
            lines += [esc(member.help or ""), *options_of(member, ctx)]
        lines += [
            ".SH SEE ALSO",
            "\\fBfcrctl\\fR(1) for the global options, the environment, configuration and exit codes.",
        ]
        pages[f"fcrctl-{name}.1"] = "\n".join(lines) + "\n"
    return pages


def all_pages() -> dict[Path, str]:
    root = typer.main.get_command(app)
    root_ctx = root.make_context("fcrctl", [], resilient_parsing=True)
    return {PAGE: build(), **{HERE / name: text for name, text in command_pages(root, root_ctx).items()}}


def _walk(group: Any, ctx: Any, prefix: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if hasattr(command, "list_commands"):
            sub_ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
            out += _walk(command, sub_ctx, f"{prefix} {name}")
        else:
            out.append((f"{prefix} {name}", command))
    return out


def main() -> int:
    pages = all_pages()
    stale = sorted(set(HERE.glob("fcrctl-*.1")) - set(pages))  # pages of commands that are gone
    if "--check" in sys.argv[1:]:
        wrong = [p.name for p, text in pages.items() if not p.exists() or p.read_text() != text]
        if wrong or stale:
            names = ", ".join(wrong + [p.name for p in stale])
            print(f"man pages out of date ({names}): run python man/generate.py", file=sys.stderr)
            return 1
        return 0
    for path in stale:
        path.unlink()
    for path, text in pages.items():
        path.write_text(text)
    print(f"wrote {len(pages)} pages in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
