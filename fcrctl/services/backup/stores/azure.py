"""AzureStore: a backup store in an Azure Blob Storage container, ``azure://container/prefix``,
through azure-storage-blob.

Credentials as Azure's own tools take them, from the environment or the file
``--store-credentials`` names (never argv): ``AZURE_STORAGE_CONNECTION_STRING``, or
``AZURE_STORAGE_ACCOUNT`` with ``AZURE_STORAGE_KEY`` or ``AZURE_STORAGE_SAS_TOKEN`` (the
endpoint ``https://ACCOUNT.blob.core.windows.net`` unless ``--endpoint-url`` says otherwise).
A value is uploaded as staged blocks committed at the end (whole or absent); retries with
exponential backoff on throttling and 5xx are the SDK's.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from fcrctl.errors import AuthError, BadInput, FcrctlError, NotFound, Unavailable, Unsupported
from fcrctl.services.backup.stores import leases
from fcrctl.services.backup.stores.base import StoreCapabilities
from fcrctl.services.backup.stores.remote import (
    MARKER,
    MAX_SMALL,
    ChunkReader,
    ErrorMappingStream,
    IteratorReader,
    MissingContainer,
    PackCache,
    check_key,
    check_marker,
    marker_body,
    not_found,
    read_credentials_file,
    read_head,
    retries,
    split_url,
    truncated,
)

_NAMES = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN")


class AzureStore:
    capabilities = StoreCapabilities(local=False, parallel_writes=16)

    def __init__(self, container: Any, name: str, prefix: str, endpoint: str,
                 lock_wait: float = leases.DEFAULT_WAIT) -> None:
        self._container = container
        self._name = name
        self._prefix = f"{prefix}/" if prefix else ""
        self._endpoint = endpoint
        self._lock_wait = lock_wait
        self._packs = PackCache(self.get)
        self.location = f"azure://{name}/{prefix}".rstrip("/")

    @classmethod
    def open(cls, url: str, *, create: bool = False, endpoint_url: str | None = None,
             credentials_file: str | None = None, lock_wait: float | None = None, **_: Any) -> AzureStore:
        try:
            from azure.storage.blob import BlobServiceClient, ExponentialRetry
        except ImportError as e:  # pragma: no cover - a dependency of fcrctl
            raise Unsupported("azure:// stores need azure-storage-blob: pip install azure-storage-blob") from e
        name, prefix = split_url(url, "azure", "container")
        env = read_credentials_file(credentials_file) if credentials_file else {
            k: os.environ[k] for k in _NAMES if os.environ.get(k)}
        retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=retries())
        kwargs: dict[str, Any] = {"retry_policy": retry, "connection_timeout": 10, "read_timeout": 120,
                                  "max_single_put_size": MAX_SMALL, "max_block_size": 4 << 20}
        try:
            if env.get("AZURE_STORAGE_CONNECTION_STRING"):
                service = BlobServiceClient.from_connection_string(env["AZURE_STORAGE_CONNECTION_STRING"], **kwargs)
                if endpoint_url:
                    service = BlobServiceClient(endpoint_url, credential=service.credential, **kwargs)
            elif env.get("AZURE_STORAGE_ACCOUNT"):
                account = env["AZURE_STORAGE_ACCOUNT"]
                credential: Any = None
                if env.get("AZURE_STORAGE_KEY"):
                    credential = {"account_name": account, "account_key": env["AZURE_STORAGE_KEY"]}
                elif env.get("AZURE_STORAGE_SAS_TOKEN"):
                    credential = env["AZURE_STORAGE_SAS_TOKEN"].lstrip("?")
                else:
                    raise AuthError("AZURE_STORAGE_ACCOUNT is set without AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN")
                service = BlobServiceClient(endpoint_url or f"https://{account}.blob.core.windows.net",
                                            credential=credential, **kwargs)
            else:
                raise AuthError("no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT "
                                "with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN (or name a file of them with "
                                "--store-credentials)")
        except ValueError as e:
            raise BadInput(f"the Azure credentials are malformed ({type(e).__name__}): check the connection "
                           f"string or account settings") from None
        endpoint = service.url.split("?")[0].rstrip("/")
        store = cls(service.get_container_client(name), name, prefix, endpoint,
                    leases.DEFAULT_WAIT if lock_wait is None else lock_wait)
        store._check(create)
        return store

    def _check(self, create: bool) -> None:
        def read() -> bytes:
            with self.get(MARKER, _checked=False) as fh:
                return fh.read(4096)

        check_marker(self.location, read, lambda: next(self.list(""), None) is None, self._put_marker, create=create)

    def _put_marker(self) -> None:
        body = marker_body()
        self._call(lambda: self._container.upload_blob(self._prefix + MARKER, body, overwrite=True), MARKER)

    def _error(self, e: Exception, key: str) -> FcrctlError:
        from azure.core import exceptions as ax

        if isinstance(e, ax.ClientAuthenticationError):
            return AuthError(f"Azure at {self._endpoint} refused the credentials for container {self._name}: check "
                             f"AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN")
        if isinstance(e, ax.ResourceNotFoundError):
            if getattr(e, "error_code", None) == "ContainerNotFound":
                return MissingContainer(f"container {self._name} does not exist at {self._endpoint}: create it first "
                                f"(az storage container create -n {self._name}) or check the name")
            return not_found(key, self.location)
        if isinstance(e, ax.HttpResponseError):
            status = getattr(e, "status_code", None)
            if status in (401, 403):
                return AuthError(f"Azure at {self._endpoint} refused access to container {self._name} ({status}): "
                                 f"check the credentials and their permissions")
            if status == 416:
                return truncated(key, self.location)
            return Unavailable(f"Azure at {self._endpoint}: {key}: {status} {getattr(e, 'error_code', '') or ''}")
        if isinstance(e, ax.ServiceRequestError | ax.ServiceResponseError):
            return Unavailable(f"cannot reach the Azure blob endpoint {self._endpoint}: is it running and the "
                               f"address right?")
        if isinstance(e, ax.AzureError):
            return Unavailable(f"Azure at {self._endpoint}: {key}: {type(e).__name__}")
        return Unavailable(f"Azure at {self._endpoint}: {key}: {e}")

    def _call(self, fn: Any, key: str) -> Any:
        from azure.core.exceptions import AzureError

        try:
            return fn()
        except AzureError as e:
            raise self._error(e, key) from None

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        self._packs.forget(key)
        name = self._prefix + check_key(key)
        it = iter(chunks)
        head, whole = read_head(it)
        if whole:
            self._call(lambda: self._container.upload_blob(name, head, overwrite=True), key)
            return len(head)
        counted = [len(head)]

        def counting() -> Iterator[bytes]:
            for chunk in it:
                counted[0] += len(chunk)
                yield chunk

        # staged blocks, committed once all are in: a failure leaves no blob (uncommitted blocks expire)
        stream = io.BufferedReader(ChunkReader(counting(), head), 1 << 20)
        self._call(lambda: self._container.upload_blob(name, stream, overwrite=True, max_concurrency=2), key)
        return counted[0]

    def get(self, key: str, *, _checked: bool = True) -> BinaryIO:
        name = self._prefix + (check_key(key) if _checked else key)
        downloader = self._call(lambda: self._container.download_blob(name), key)
        stream = ErrorMappingStream(IteratorReader(downloader.chunks()), lambda e: self._error(e, key), lambda: None)
        return io.BufferedReader(stream, 1 << 20)  # type: ignore[return-value]

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        cached = self._packs.slice(check_key(key), offset, length, self.location)
        if cached is not None:
            return cached
        name = self._prefix + check_key(key)
        data = self._call(lambda: self._container.download_blob(name, offset=offset, length=length).readall(), key)
        if len(data) != length:
            raise truncated(key, self.location)
        return bytes(data)

    def exists(self, key: str) -> bool:
        name = self._prefix + check_key(key)
        try:
            self._call(lambda: self._container.get_blob_client(name).get_blob_properties(), key)
        except MissingContainer:
            raise
        except NotFound:
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        return (key for key, _ in self.list_sizes(prefix))

    def list_sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        from azure.core.exceptions import AzureError

        cut = len(self._prefix)
        try:
            for blob in self._container.list_blobs(name_starts_with=self._prefix + prefix):
                key = blob.name[cut:]
                if key and key != MARKER:
                    yield key, int(blob.size or 0)
        except AzureError as e:
            raise self._error(e, prefix or "/") from None

    def delete(self, key: str) -> None:
        self._packs.forget(key)
        from azure.core.exceptions import ResourceNotFoundError

        name = self._prefix + check_key(key)
        with contextlib.suppress(ResourceNotFoundError):
            self._call_raw(lambda: self._container.delete_blob(name), key)

    def _call_raw(self, fn: Any, key: str) -> Any:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            return fn()
        except ResourceNotFoundError as e:
            if getattr(e, "error_code", None) == "ContainerNotFound":
                raise self._error(e, key) from None
            raise
        except AzureError as e:
            raise self._error(e, key) from None

    def lock(self, *, exclusive: bool) -> contextlib.AbstractContextManager[str]:
        return leases.lease(self, exclusive=exclusive, wait=self._lock_wait)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
