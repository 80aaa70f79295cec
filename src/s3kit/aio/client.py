"""``AsyncS3Client``: ``S3Client`` for asyncio. Every method of the sync client exists here
with the same name, arguments, defaults, errors and semantics, awaited; both run the same
flows (``operations.py``), so they cannot drift apart (``tests/unit/test_parity.py``)."""

from __future__ import annotations

import os

from .. import operations as ops
from ..client import ClientConfig
from ..config import validate_bucket_name
from ..engine import Engine
from .bucket import AsyncS3Bucket
from .runner import run
from .transport import AsyncTransport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TypeVar

    from ..config import Timeout
    from ..credentials import Credentials, CredentialsProvider
    from ..flow import Flow
    from ..retry import Retry

    T = TypeVar("T")

__all__ = ["AsyncS3Client"]


class AsyncS3Client:
    """A connection to one S3 endpoint with one set of credentials, for asyncio.

    >>> async with AsyncS3Client("http://127.0.0.1:7480", "key", "secret") as s3:  # doctest: +SKIP
    ...     b = await s3.create_bucket("photos")
    ...     await b.put("cat.jpg", b"...")

    Arguments as :class:`~s3kit.S3Client`. A client belongs to the event loop it is first
    used on; using it from another running loop raises :class:`EventLoopError` (use one
    client per loop). Safe to share between the loop's tasks; pickles as configuration.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        *,
        session_token: str | None = None,
        profile: str | None = None,
        addressing: str = "auto",
        verify: bool | str = True,
        timeout: float | Timeout | None = None,
        retry: Retry | None = None,
        max_connections: int = 64,
        credentials_provider: CredentialsProvider | None = None,
    ) -> None:
        cfg = self._config = ClientConfig(endpoint, access_key, secret_key, region, session_token, profile,
                                          addressing, verify, timeout, retry, max_connections, credentials_provider)
        self._engine = Engine(cfg.endpoint, cfg.region, cfg.credentials, cfg.retry, cfg.timeout)
        self._transport = AsyncTransport(verify=cfg.verify, timeout=cfg.timeout, maxsize=cfg.max_connections)

    def __reduce__(self) -> tuple[object, tuple[dict[str, object]]]:
        return _rebuild, (self._config.state(),)

    async def _run(self, flow: Flow[T]) -> T:
        return await run(flow, self._transport)

    @property
    def transport(self) -> AsyncTransport:
        """The connection pool (for diagnostics: ``open_connections()``)."""
        return self._transport

    # -- configuration ---------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self._config.endpoint.url

    @property
    def region(self) -> str:
        return self._config.region

    @property
    def addressing(self) -> str:
        return self._config.endpoint.addressing

    @property
    def timeout(self) -> Timeout:
        return self._config.timeout

    @property
    def retry(self) -> Retry:
        return self._config.retry

    @property
    def max_connections(self) -> int:
        return self._config.max_connections

    @property
    def credentials(self) -> Credentials | None:
        """The credentials held now (no request is made; None before the first request or
        ``async with`` when they come from a provider)."""
        return self._config.credentials.credentials

    @property
    def credentials_source(self) -> str | None:
        """Which provider the credentials came from; no secret."""
        return self._config.credentials.source

    # -- context manager and repr ----------------------------------------------------------

    async def __aenter__(self) -> AsyncS3Client:
        """Resolves the credentials (providers that need the network are asked here, not
        in the constructor, which never blocks the event loop): none anywhere raises
        :class:`CredentialsError` here, naming every place looked at."""
        cfg = self._config
        await self._run(cfg.credentials.current())
        if cfg.wants_imds_region():
            from ..credentials.imds import imds_region  # EC2 only

            cfg.set_region(await self._run(imds_region(os.environ)))
            self._engine.region = cfg.region
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close pooled connections. The client stays usable (it reconnects on demand)."""
        self._transport.close()

    def __repr__(self) -> str:
        creds = self._config.credentials.credentials
        return (f"AsyncS3Client(endpoint={self.endpoint!r}, region={self.region!r}, "
                f"access_key={creds.access_key if creds else None!r})")

    # -- bucket operations -----------------------------------------------------------------

    def bucket(self, name: str) -> AsyncS3Bucket:
        """A handle on a bucket; no request is made."""
        return AsyncS3Bucket(self, validate_bucket_name(name, strict=False))

    async def get_bucket(self, name: str) -> AsyncS3Bucket:
        """The bucket if it exists, else :class:`NoSuchBucket`."""
        b = self.bucket(name)
        await self._run(ops.head_bucket(self._engine, name))
        return b

    async def bucket_exists(self, name: str) -> bool:
        return await self._run(ops.bucket_exists(self._engine, name))

    async def create_bucket(self, name: str, *, region: str | None = None) -> AsyncS3Bucket:
        """Create a bucket; :class:`BucketAlreadyExists` if the name is taken, even by you."""
        await self._run(ops.create_bucket(self._engine, name, region))
        return self.bucket(name)

    async def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket; no error if it does not exist (BucketNotEmpty if not empty)."""
        await self._run(ops.delete_bucket(self._engine, name))

    async def list_buckets(self) -> list[AsyncS3Bucket]:
        """Every bucket the credentials own (``[]`` when none)."""
        out = []
        for name, created in await self._run(ops.list_buckets(self._engine)):
            b = AsyncS3Bucket(self, name)
            b.creation_date = created
            out.append(b)
        return out

    async def bucket_region(self, name: str) -> str:
        """The region a bucket lives in (HeadBucket's header, else GetBucketLocation)."""
        return await self._run(ops.bucket_region(self._engine, name))

    async def presign_url(self, method: str, bucket: str, key: str | None, *, expires: int = 3600,
                          query: Mapping[str, str | None] | None = None) -> str:
        """A SigV4 query-signed URL for any request (``bucket.presign`` covers objects)."""
        validate_bucket_name(bucket, strict=False)
        return await self._run(ops.presign(self._engine, method, bucket, key, expires=expires, query=query))


def _rebuild(state: dict[str, Any]) -> AsyncS3Client:
    return AsyncS3Client(**state)
