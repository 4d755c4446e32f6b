"""``fcrctl serve``: the Fedora REST API over any Repository (WSGI app + waitress runner)."""

from fcrctl.server.app import FedoraApp, make_app

__all__ = ["FedoraApp", "make_app"]
