"""The WSGI application: the Fedora 4/5 REST API (and Fedora 6 bits) over ANY Repository.

    app = make_app(repo, base_path="/rest", auth=BasicAuth.from_file("users"))

Routing is a table: endpoint (see routing.py) -> HTTP method -> handler(Context) -> Response.
Later services (transactions, fcr:backup / fcr:restore) plug in with ``app.route(...)``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from fcrctl.errors import BadInput, FcrctlError, ReadOnly, Unsupported
from fcrctl.repository.base import Repository
from fcrctl.server import authz, constraints, endpoints, keepalive, reads, tombstones, writes
from fcrctl.server import responses as r
from fcrctl.server import routing as rt
from fcrctl.server.auth import BasicAuth
from fcrctl.server.context import Context, ServerConfig

log = logging.getLogger("fcrctl.server")

Handler = Callable[[Context], Response]
DIALECTS = ("fedora4", "fedora5", "fedora6")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE", "MOVE", "COPY"})


def _default_routes() -> dict[str, dict[str, Handler]]:
    return {
        rt.RESOURCE: {
            "GET": reads.get,
            "HEAD": reads.get,
            "OPTIONS": reads.options,
            "POST": writes.post,
            "PUT": writes.put,
            "PATCH": writes.patch,
            "DELETE": writes.delete,
            "MOVE": writes.move,
            "COPY": writes.copy,
        },
        rt.METADATA: {
            "GET": reads.get_metadata,
            "HEAD": reads.get_metadata,
            "OPTIONS": reads.options,
            "PUT": writes.put_metadata,
            "PATCH": writes.patch_metadata,
            "DELETE": writes.delete_metadata,
        },
        rt.VERSIONS: {
            "GET": endpoints.list_versions,
            "HEAD": endpoints.list_versions,
            "POST": endpoints.create_version,
            "OPTIONS": endpoints.versions_options,
        },
        rt.VERSION: {
            "GET": endpoints.get_version,
            "HEAD": endpoints.get_version,
            "PATCH": endpoints.revert_version,
            "DELETE": endpoints.delete_version,
            "OPTIONS": endpoints.versions_options,
        },
        rt.VERSION_METADATA: {"GET": endpoints.get_version_metadata, "HEAD": endpoints.get_version_metadata},
        rt.FIXITY: {"GET": endpoints.fixity, "HEAD": endpoints.fixity},
        rt.TOMBSTONE: {"DELETE": tombstones.delete, **dict.fromkeys(("GET", "HEAD", "PUT", "POST", "PATCH", "OPTIONS"),
                                                                    tombstones.other)},
    }


class FedoraApp:
    """WSGI callable. Thread-safe: per-request state lives in a Context."""

    def __init__(self, repo: Repository, config: ServerConfig, auth: BasicAuth | None = None) -> None:
        self.repo = repo
        self.config = config
        self.auth = auth
        self.routes = _default_routes()
        from fcrctl.services.backup import server_side

        server_side.register(self)  # fcr:backup / fcr:restore (the handlers check the backend)
        from fcrctl.server import acl_endpoints

        self.policy = acl_endpoints.register(self.route)  # fcr:acl; WebAC for auth-file users (serve may replace it)
        # make_app sets this from transactions.register: it runs a request inside its transaction (tx:ID / Atomic-ID)
        self.tx_binder: Callable[[Context], Context] | None = None
        self._base_urls: dict[tuple[object, ...], str] = {}

    def route(self, endpoint: str, method: str, handler: Handler) -> None:
        """Add or replace the handler of ``method`` on ``endpoint`` (how later services plug in)."""
        self.routes.setdefault(endpoint, {})[method] = handler

    def allow(self, endpoint: str) -> str:
        methods = set(self.routes.get(endpoint, {})) | {"OPTIONS"}
        if endpoint == rt.VERSION and not self.repo.capabilities.delete_versions:
            methods.discard("DELETE")
        if not self.repo.capabilities.writable:
            methods &= {"GET", "HEAD", "OPTIONS"}
        return ",".join(sorted(methods))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        # werkzeug refuses form parsing of huge bodies; we never parse forms, only read streams
        response = self.dispatch(request)
        return response(environ, start_response)

    def base_url(self, request: Request) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        # werkzeug rebuilds host_url through IRI decoding on every request (~0.1 ms); the
        # answer depends only on these environ values, and a server sees few distinct ones.
        environ = request.environ
        key = (
            environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME"),
        )
        url = self._base_urls.get(key)
        if url is None:
            url = request.host_url.rstrip("/") + request.script_root + self.config.base_path.rstrip("/")
            if len(self._base_urls) < 256:  # bounded: Host is client-controlled
                self._base_urls[key] = url
        return url

    def dispatch(self, request: Request) -> Response:
        ctx: Context | None = None
        try:
            user = (
                self.auth.authenticate(request.authorization, address=request.remote_addr)
                if self.auth is not None
                else None
            )
            request_path = rt.request_path(request.environ)
            document = constraints.document(request_path, self.config.base_path)
            if document is not None and request.method in ("GET", "HEAD", "OPTIONS"):
                return constraints.response(document, request, self.base_url(request), self.config.base_path)
            target = rt.parse_target(request_path, self.config.base_path)
            ctx = Context(self.repo, request, target, self.config, self.base_url(request))
            ctx.policy = self.policy
            if user is not None and self.auth is not None:
                ctx.user, ctx.admin = user, self.auth.is_admin(user)
                request.environ["fcrctl.user"] = user  # for the access log: who, never how
            if target.tx is not None or request.headers.get("Atomic-ID"):
                if self.tx_binder is None:
                    raise Unsupported(f"{self.repo.location} does not support transactions")
                ctx = self.tx_binder(ctx)
            authz.authorize(self.policy, ctx, self.repo)
            methods = self.routes.get(target.endpoint, {})
            handler = methods.get(request.method)
            if handler is None:
                allow = self.allow(target.endpoint)
                if request.method == "OPTIONS" and methods:
                    return Response(status=200, headers={"Allow": allow})
                services = (rt.TX, rt.TX_COMMIT, rt.TX_ROLLBACK, rt.TX_ID, rt.BACKUP, rt.RESTORE)
                if target.endpoint in services and not methods:
                    raise Unsupported(f"{request.path} is not supported by this server yet")
                return r.method_not_allowed(request.method, allow)
            if request.method in WRITE_METHODS and not self.repo.capabilities.writable:
                raise ReadOnly(f"{self.repo.location} is read-only: {request.method} is not allowed")
            return keepalive.sized(handler(ctx))  # a small body gets its length: the connection stays open
        except FcrctlError as err:
            allow = "GET,HEAD,OPTIONS" if isinstance(err, ReadOnly) else None
            return r.error(err, ctx, allow=allow)
        except HTTPException as exc:  # werkzeug's own request parsing (bad headers, ...)
            return r.text(exc.code or 400, exc.description or "bad request")
        except (UnicodeError, ValueError) as exc:
            # malformed input werkzeug/rdflib let through as a plain error: the client's fault
            log.info("bad request %s %s: %s", request.method, request.path, exc)
            return r.error(BadInput(f"malformed request: {str(exc)[:200]}"), ctx)
        except Exception:
            return r.unexpected(ctx)


def make_app(
    repo: Repository,
    base_path: str = "/rest",
    auth: BasicAuth | None = None,
    *,
    dialect: str = "fedora4",
    max_rdf_bytes: int | None = None,
    public_url: str | None = None,
    external_allowed: str | None = None,
    allow_external_fetch: bool = False,
    backup_dir: str | None = None,
    policy: Any = None,
) -> FedoraApp:
    """``policy``: the access-control Policy (fcrctl.acl) for auth-file users; default: admins only."""
    if dialect not in DIALECTS:
        raise BadInput(f"unknown API dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    base = "/" + base_path.strip("/") if base_path.strip("/") else ""
    config = ServerConfig(base_path=base, dialect=dialect, public_url=public_url)
    if max_rdf_bytes is not None:
        config = ServerConfig(base_path=base, dialect=dialect, max_rdf_bytes=max_rdf_bytes, public_url=public_url)
    if external_allowed is not None or allow_external_fetch:
        from fcrctl.server.external import ExternalPolicy

        config = dataclasses.replace(config, external=ExternalPolicy.load(external_allowed, fetch=allow_external_fetch))
    if backup_dir is not None:
        config = dataclasses.replace(config, backup_dir=str(backup_dir))
    app = FedoraApp(repo, config, auth)
    if policy is not None:
        app.policy = policy
    if repo.capabilities.transactions:
        from fcrctl.server import transactions

        app.tx_binder = transactions.register(app.route)
    return app
