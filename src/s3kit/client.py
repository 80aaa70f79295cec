"""``S3Client``: one endpoint and one set of credentials, and the bucket operations.

A thin front end: configuration is parsed here; every operation is a flow from
``operations.py`` run by the sync driver (``runner.py``) over this client's connection
pool. ``AsyncS3Client`` (``aio/client.py``) is the same with ``await``.
"""

from __future__ import annotations

import os
from _thread import allocate_lock

from . import _fork, _lazy
from .config import Endpoint, Timeout, validate_bucket_name, validate_key, validate_region
from .credentials import Credentials, load_profile, resolve_region
from .errors import CredentialsError, InvalidArgument, InvalidType, S3Error
from .flow import start
from .retry import Retry

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TypeVar

    from . import bucket as _bucket
    from . import engine as _engine
    from . import operations as _ops
    from . import runner as _runner
    from . import transport as _transport
    from .credentials import CredentialsProvider
    from .credentials.refresh import RefreshingCredentials
    from .flow import Flow

    T = TypeVar("T")
else:  # the one lazy boundary (see _lazy.py): the machinery loads on the first request
    _bucket = _lazy.module("s3kit.bucket")
    _engine = _lazy.module("s3kit.engine")
    _ops = _lazy.module("s3kit.operations")
    _runner = _lazy.module("s3kit.runner")
    _transport = _lazy.module("s3kit.transport")


__all__ = ["S3Client", "ClientConfig", "validate_bucket_name", "validate_key", "validate_region"]


class ClientConfig:
    """Everything a client is configured with, resolved from arguments, environment and
    profile files; shared by :class:`S3Client` and ``AsyncS3Client``. No I/O."""

    def __init__(
        self,
        endpoint: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str | None,
        session_token: str | None,
        profile: str | None,
        addressing: str,
        verify: bool | str,
        timeout: float | Timeout | None,
        retry: Retry | None,
        max_connections: int,
        credentials_provider: CredentialsProvider | None,
    ) -> None:
        env = os.environ
        if region is not None:
            validate_region(region, "the region argument")
        self.credentials, settings = _credential_source(access_key, secret_key, session_token, profile,
                                                        credentials_provider, region, env)
        self.region_configured = bool(region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
                                      or settings.get("region"))
        self.region: str = validate_region(resolve_region(region, settings, env),
                                           "the region argument, AWS_REGION, AWS_DEFAULT_REGION or the profile")
        given = (endpoint or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
                 or settings.get("endpoint_url"))
        self.endpoint = Endpoint(given, addressing)
        if timeout is None:
            timeout = Timeout()
        elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            timeout = Timeout(float(timeout), float(timeout))
        elif not isinstance(timeout, Timeout):
            raise InvalidType(f"timeout must be seconds or a Timeout, not {type(timeout).__name__}")
        if retry is not None and not isinstance(retry, Retry):
            raise InvalidType(f"retry must be a Retry, not {type(retry).__name__}")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise InvalidArgument(f"max_connections must be an int >= 1, got {max_connections!r}")
        if not isinstance(verify, (bool, str)):
            raise InvalidType("verify must be True, False or the path of a CA bundle")
        self.timeout: Timeout = timeout
        self.retry: Retry = retry or Retry()
        self.max_connections = max_connections
        self.verify = verify
        self.credentials_provider = credentials_provider
        # what a pickle carries: secrets only if they were given explicitly (see state())
        self._given = (access_key, secret_key, session_token, profile)

    def wants_imds_region(self) -> bool:
        """No region configured anywhere, and the credentials came from EC2 instance
        metadata: then the instance's region is the right default (and IMDS is known to
        answer, so asking costs milliseconds, not a timeout)."""
        return not self.region_configured and self.credentials.source == "imds"

    def set_region(self, region: str | None) -> None:
        if region:
            self.region = validate_region(region, "the instance metadata service", from_server=True)
            self.region_configured = True

    def state(self) -> dict[str, object]:
        """The constructor arguments that rebuild this configuration (for pickling).
        Credentials travel only if they were given explicitly (as arguments or a provider);
        ones found in the environment or profile files are looked up again where the copy
        is unpickled."""
        access_key, secret_key, session_token, profile = self._given
        ep = self.endpoint
        return {
            "endpoint": None if ep.default_aws else ep.url,
            "access_key": access_key, "secret_key": secret_key, "session_token": session_token,
            "profile": profile, "region": self.region, "addressing": ep.addressing, "verify": self.verify,
            "timeout": self.timeout, "retry": self.retry, "max_connections": self.max_connections,
            "credentials_provider": self.credentials_provider,
        }


class S3Client:
    """A connection to one S3 endpoint with one set of credentials. Thread-safe.

    >>> c = S3Client("http://127.0.0.1:7480", "key", "secret")   # doctest: +SKIP
    >>> c.create_bucket("photos").put("cat.jpg", b"...")          # doctest: +SKIP

    ``endpoint`` is a host (https is used) or an ``http(s)://host[:port]`` URL; ``None``
    reads ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` and falls back to AWS.
    ``addressing`` is ``"auto"``, ``"path"`` or ``"virtual"``. ``verify`` is True, False or
    the path of a CA bundle. ``timeout`` is seconds (connect and read) or a
    :class:`Timeout`. ``retry`` is a :class:`Retry`. ``max_connections`` bounds the pool.

    Pickles as its configuration (never its connections), so it can be sent to
    ``ProcessPoolExecutor`` workers or Dask; after ``fork()`` a child starts with an empty
    pool. Secrets are in the pickle only where they were given as arguments.
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
        self._config = ClientConfig(endpoint, access_key, secret_key, region, session_token, profile, addressing,
                                    verify, timeout, retry, max_connections, credentials_provider)
        self._engine_obj: _engine.Engine | None = None
        self._transport_obj: _transport.Transport | None = None
        self._lock = allocate_lock()
        _fork.register(self)
        # Credentials are resolved now, as boto3 does: none anywhere is a CredentialsError
        # here, naming every place looked at. Explicit keys need no driver at all.
        done, rest = start(self._config.credentials.current())
        if not done:
            self._run(rest)
        if self._config.wants_imds_region():
            from .credentials.imds import imds_region  # EC2 only

            self._config.set_region(self._run(imds_region(os.environ)))

    def _after_fork(self) -> None:
        self._lock = allocate_lock()  # another thread may have held it at fork()

    def __reduce__(self) -> tuple[object, tuple[dict[str, object]]]:
        return _rebuild, (self._config.state(),)

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
        """The credentials held now (no request is made: they are refreshed, when they can
        be, before the request that needs them)."""
        return self._config.credentials.credentials

    @property
    def credentials_source(self) -> str | None:
        """Which provider the credentials came from (``"static"``, ``"env"``, ``"sso"``,
        ``"imds"``...); no secret."""
        return self._config.credentials.source

    # -- the machinery (created on first use) ----------------------------------------------

    @property
    def _engine(self) -> _engine.Engine:
        engine = self._engine_obj
        if engine is None:
            with self._lock:
                if self._engine_obj is None:
                    cfg = self._config
                    self._engine_obj = _engine.Engine(cfg.endpoint, cfg.region, cfg.credentials, cfg.retry,
                                                      cfg.timeout)
                engine = self._engine_obj
        return engine

    @property
    def transport(self) -> _transport.Transport:
        """The connection pool (for diagnostics: ``open_connections()``)."""
        t = self._transport_obj
        if t is None:
            with self._lock:
                if self._transport_obj is None:
                    cfg = self._config
                    self._transport_obj = _transport.Transport(verify=cfg.verify, timeout=cfg.timeout,
                                                               maxsize=cfg.max_connections)
                t = self._transport_obj
        return t

    def _run(self, flow: Flow[T]) -> T:
        return _runner.run(flow, self.transport)

    # -- context manager and repr ----------------------------------------------------------

    def __enter__(self) -> S3Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections. The client stays usable (it reconnects on demand)."""
        if self._transport_obj is not None:
            self._transport_obj.close()

    def __repr__(self) -> str:
        creds = self._config.credentials.credentials
        return (f"S3Client(endpoint={self.endpoint!r}, region={self.region!r}, "
                f"access_key={creds.access_key if creds else None!r})")

    # -- bucket operations -----------------------------------------------------------------

    def bucket(self, name: str) -> _bucket.S3Bucket:
        """A handle on a bucket; no request is made."""
        return _bucket.S3Bucket(self, validate_bucket_name(name, strict=False))

    def get_bucket(self, name: str) -> _bucket.S3Bucket:
        """The bucket if it exists, else :class:`NoSuchBucket`."""
        b = self.bucket(name)
        self._run(_ops.head_bucket(self._engine, name))
        return b

    def bucket_exists(self, name: str) -> bool:
        return self._run(_ops.bucket_exists(self._engine, name))

    def create_bucket(self, name: str, *, region: str | None = None) -> _bucket.S3Bucket:
        """Create a bucket; :class:`BucketAlreadyExists` if the name is taken, even by you.

        Outside us-east-1 the region is sent as ``LocationConstraint``.
        """
        self._run(_ops.create_bucket(self._engine, name, region))
        return self.bucket(name)

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket; no error if it does not exist (BucketNotEmpty if not empty)."""
        self._run(_ops.delete_bucket(self._engine, name))

    def list_buckets(self) -> list[_bucket.S3Bucket]:
        """Every bucket the credentials own (``[]`` when none)."""
        out = []
        for name, created in self._run(_ops.list_buckets(self._engine)):
            b = _bucket.S3Bucket(self, name)
            b.creation_date = created
            out.append(b)
        return out

    def bucket_region(self, name: str) -> str:
        """The region a bucket lives in (HeadBucket's header, else GetBucketLocation)."""
        return self._run(_ops.bucket_region(self._engine, name))

    def presign_url(self, method: str, bucket: str, key: str | None, *, expires: int = 3600,
                    query: Mapping[str, str | None] | None = None) -> str:
        """A SigV4 query-signed URL for any request (``bucket.presign`` covers objects)."""
        validate_bucket_name(bucket, strict=False)
        return self._run(_ops.presign(self._engine, method, bucket, key, expires=expires, query=query))


def _credential_source(access_key: str | None, secret_key: str | None, session_token: str | None,
                       profile: str | None, provider: CredentialsProvider | None, region: str | None,
                       env: Mapping[str, str]) -> tuple[RefreshingCredentials, dict[str, str]]:
    """The credentials a client holds, and the profile settings (region, endpoint_url).

    Keys or a provider given explicitly use light providers (import + construct stays at
    ~2 ms); otherwise the full chain in botocore's order (``credentials.default_chain``).
    Nothing is fetched here: see :func:`resolve_now`.
    """
    from .credentials.refresh import CallbackProvider, RefreshingCredentials, StaticProvider

    if provider is not None or (access_key and secret_key):
        if provider is not None:
            if access_key or secret_key:
                raise CredentialsError("give either access_key/secret_key or credentials_provider, not both")
            source: Any = CallbackProvider(provider, name="credentials_provider")
        else:
            assert access_key and secret_key
            source = StaticProvider(Credentials(access_key, secret_key, session_token))
        settings: dict[str, str] = {}
        if not (region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
            try:
                settings = load_profile(profile, env)[0]
            except S3Error:
                settings = {}
        return RefreshingCredentials(source), settings
    from .credentials.default import default_chain

    chain = default_chain(profile=profile, env=env, access_key=access_key, secret_key=secret_key,
                          session_token=session_token, region=region)
    return RefreshingCredentials(chain), chain.settings()


def _rebuild(state: dict[str, Any]) -> S3Client:
    return S3Client(**state)
