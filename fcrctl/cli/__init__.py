"""The command-line interface: a thin typer app over the Repository protocol.

Each command module reads like a recipe: options in, open the repository, one protocol call,
one render. Errors become exit codes in exactly one place (:mod:`fcrctl.cli.main`).
"""
