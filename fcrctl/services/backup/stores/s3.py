"""S3Store: a backup store in an S3 bucket (AWS, or any S3-compatible cluster: MinIO, Ceph RGW,
Garage, Wasabi), ``s3://bucket/prefix``, through boto3.

Credentials and region come from the standard AWS chain (environment, ``~/.aws/config`` and
``credentials``, ``--aws-profile``, instance roles), the endpoint from ``--endpoint-url`` or
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (which boto3 reads itself). Retries with backoff
on throttling and 5xx are botocore's (standard mode). Values up to 8 MiB are one PutObject;
larger ones go in parts (s3transfer's multipart upload, completed only once every part is in,
so a key is whole or absent). boto3 sends a checksum with each request and S3 checks it. A
multipart upload a killed process left is aborted by the next upload or prune (:meth:`S3Store.clean`).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
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
    MissingContainer,
    PackCache,
    check_key,
    check_marker,
    marker_body,
    not_found,
    read_head,
    split_url,
    truncated,
)

_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken",
               "InvalidClientTokenId", "AuthorizationHeaderMalformed", "403", "401"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


class S3Store:
    capabilities = StoreCapabilities(local=False, parallel_writes=16)

    def __init__(self, client: Any, bucket: str, prefix: str, endpoint: str, *, storage_class: str | None = None,
                 lock_wait: float = leases.DEFAULT_WAIT) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = f"{prefix}/" if prefix else ""
        self._endpoint = endpoint
        self._storage_class = storage_class
        self._lock_wait = lock_wait
        self._lease: str | None = None  # the key of the lease this store object holds
        self._packs = PackCache(self.get)
        self.location = f"s3://{bucket}/{prefix}".rstrip("/")

    @classmethod
    def open(cls, url: str, *, create: bool = False, endpoint_url: str | None = None, aws_profile: str | None = None,
             storage_class: str | None = None, lock_wait: float | None = None, **_: Any) -> S3Store:
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError as e:  # pragma: no cover - a dependency of fcrctl
            raise Unsupported("s3:// stores need boto3: pip install boto3") from e
        bucket, prefix = split_url(url, "s3", "bucket")
        try:
            session = boto3.session.Session(profile_name=aws_profile)
        except botocore.exceptions.ProfileNotFound:
            raise BadInput(f"no AWS profile {aws_profile!r} in ~/.aws/config or ~/.aws/credentials") from None
        attempts = int(os.environ.get("AWS_MAX_ATTEMPTS", "8"))  # as boto3 reads it, were our Config not given
        config = botocore.config.Config(
            retries={"mode": "standard", "max_attempts": attempts},  # backoff with jitter on throttling and 5xx
            max_pool_connections=32, connect_timeout=10, read_timeout=120,
        )
        client = session.client("s3", endpoint_url=endpoint_url, region_name=session.region_name or "us-east-1",
                                config=config)
        store = cls(client, bucket, prefix, client.meta.endpoint_url, storage_class=storage_class,
                    lock_wait=leases.DEFAULT_WAIT if lock_wait is None else lock_wait)
        store._check(create)
        return store

    # -- the store format marker -----------------------------------------------------------------
    def _check(self, create: bool) -> None:
        def read() -> bytes:
            with self._get_raw(MARKER) as fh:
                return fh.read(4096)

        check_marker(self.location, read, lambda: next(self.list(""), None) is None, self._put_marker, create=create)

    def _put_marker(self) -> None:
        self._call(self._client.put_object, MARKER, Bucket=self._bucket, Key=self._prefix + MARKER,
                   Body=marker_body())

    # -- errors ------------------------------------------------------------------------------------
    def _error(self, e: Exception, key: str) -> FcrctlError:
        import botocore.exceptions as bx

        if isinstance(e, bx.ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return MissingContainer(f"bucket {self._bucket} does not exist at {self._endpoint}: create it first "
                                f"(aws s3 mb s3://{self._bucket}) or check the name")
            if code in _MISSING_CODES:
                return not_found(key, self.location)
            if code in _AUTH_CODES or status in (401, 403):
                return AuthError(f"S3 at {self._endpoint} refused the credentials for bucket {self._bucket} ({code}): "
                                 f"check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --aws-profile")
            if code == "InvalidRange":
                return truncated(key, self.location)
            message = f"S3 at {self._endpoint}: {key}: {code or status}: {err.get('Message', '')}"
            return Unavailable(message.rstrip(": "))
        if isinstance(e, bx.NoCredentialsError | bx.PartialCredentialsError):
            return AuthError("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE "
                             "or --aws-profile, or run where an instance role applies")
        if isinstance(e, bx.EndpointConnectionError | bx.ConnectionError | bx.ConnectTimeoutError):
            return Unavailable(f"cannot reach the S3 endpoint {self._endpoint}: is it running and the address right?")
        if isinstance(e, bx.BotoCoreError):
            return Unavailable(f"S3 at {self._endpoint}: {key}: {e}")
        return Unavailable(f"S3 at {self._endpoint}: {key}: {e}")

    def _call(self, fn: Any, key: str, **kwargs: Any) -> Any:
        import botocore.exceptions as bx

        try:
            return fn(**kwargs)
        except (bx.ClientError, bx.BotoCoreError) as e:
            raise self._error(e, key) from None

    # -- the BackupStore protocol -----------------------------------------------------------------
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        self._packs.forget(key)
        import boto3.s3.transfer
        import botocore.exceptions as bx

        name = self._prefix + check_key(key)
        it = iter(chunks)
        head, whole = read_head(it)
        extra = {"StorageClass": self._storage_class} if self._storage_class else {}
        if whole:
            self._call(self._client.put_object, key, Bucket=self._bucket, Key=name, Body=head, **extra)
            return len(head)
        counted = [0]

        def counting() -> Iterator[bytes]:
            for chunk in it:
                counted[0] += len(chunk)
                yield chunk

        config = boto3.s3.transfer.TransferConfig(multipart_threshold=MAX_SMALL, multipart_chunksize=MAX_SMALL,
                                                  max_concurrency=2, use_threads=True)
        try:
            # buffered: s3transfer reads whole parts, and a raw reader returns one chunk per read
            stream = io.BufferedReader(ChunkReader(counting(), head), 1 << 20)
            self._client.upload_fileobj(stream, self._bucket, name, ExtraArgs=extra or None, Config=config)
        except (bx.ClientError, bx.BotoCoreError) as e:
            raise self._error(e, key) from None
        except Exception as e:
            from boto3.exceptions import S3UploadFailedError

            if isinstance(e, S3UploadFailedError):
                raise Unavailable(f"S3 at {self._endpoint}: cannot upload {key}: {e}") from None
            raise
        return len(head) + counted[0]

    def _get_raw(self, key: str, **extra: Any) -> BinaryIO:
        resp = self._call(self._client.get_object, key, Bucket=self._bucket, Key=self._prefix + key, **extra)
        body = resp["Body"]
        return ErrorMappingStream(body, lambda e: self._error(e, key), body.close)  # type: ignore[return-value]

    def get(self, key: str) -> BinaryIO:
        return io.BufferedReader(self._get_raw(check_key(key)), 1 << 20)  # type: ignore[arg-type,return-value]

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        cached = self._packs.slice(check_key(key), offset, length, self.location)
        if cached is not None:
            return cached
        with self._get_raw(check_key(key), Range=f"bytes={offset}-{offset + length - 1}") as fh:
            data = fh.read(length + 1)  # a server ignoring the range cannot fill memory
        if len(data) != length:
            raise truncated(key, self.location)
        return data

    def exists(self, key: str) -> bool:
        try:
            self._call(self._client.head_object, key, Bucket=self._bucket, Key=self._prefix + check_key(key))
        except MissingContainer:
            raise
        except NotFound:
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        return (key for key, _ in self.list_sizes(prefix))

    def list_sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        import botocore.exceptions as bx

        paginator = self._client.get_paginator("list_objects_v2")
        cut = len(self._prefix)
        try:
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix + prefix):
                for obj in page.get("Contents", ()):
                    key = obj["Key"][cut:]
                    if key and key != MARKER:
                        yield key, int(obj.get("Size", 0))
        except (bx.ClientError, bx.BotoCoreError) as e:
            raise self._error(e, prefix or "/") from None

    def delete(self, key: str) -> None:
        self._packs.forget(key)
        self._call(self._client.delete_object, key, Bucket=self._bucket, Key=self._prefix + check_key(key))

    def lock(self, *, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        return leases.recorded(self, exclusive=exclusive, wait=self._lock_wait)

    def clean(self) -> None:
        """Abort the multipart uploads under the prefix that killed processes left, begun more
        than STALE_AGE ago, when no other process holds a live lease (S3 does not say whose an
        upload is, and every writer holds its lease while its uploads run). Best effort: a store
        that refuses the listing keeps them (a lifecycle rule can expire them)."""
        import botocore.exceptions as bx

        try:
            if leases.others_live(self, self._lease):
                return  # any of them may be that writer's: a later run, alone, removes the stale ones
            cutoff = time.time() - leases.STALE_AGE
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
                for upload in page.get("Uploads", ()):
                    if upload["Initiated"].timestamp() < cutoff:
                        self._client.abort_multipart_upload(Bucket=self._bucket, Key=upload["Key"],
                                                            UploadId=upload["UploadId"])
        except (FcrctlError, bx.ClientError, bx.BotoCoreError, KeyError, AttributeError):
            return

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()
