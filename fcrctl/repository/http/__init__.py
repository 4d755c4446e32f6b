"""Remote Fedora repositories (4/5 and 6) over the REST API: see repository.py."""

from fcrctl.repository.http.repository import HttpRepository

__all__ = ["HttpRepository"]
