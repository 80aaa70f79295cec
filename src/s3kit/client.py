"""``S3Client``: configuration, bucket operations and the request loop (sign, send, retry)."""

from __future__ import annotations

import os
import time
from _thread import allocate_lock
from binascii import b2a_base64

from . import _fork, sigv4
from .credentials import Credentials, load_profile, resolve_credentials, resolve_region
from .errors import (
    AccessDenied,
    BucketAlreadyExists,
    InvalidArgument,
    InvalidBucketName,
    InvalidKey,
    InvalidType,
    NoSuchBucket,
    OperationTimeout,
    ProtocolError,
    S3Error,
    TransportError,
    error_for,
)
from .payload import byte_view
from .retry import Retry
from .sigv4 import sha256
from .transport import StreamingBody, Timeout, Transport, rewind_point

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from re import Pattern
    from typing import Any

    from .bucket import S3Bucket
    from .credentials import CredentialsProvider
    from .transport import Body, HTTPResult

__all__ = ["S3Client", "validate_bucket_name", "validate_key", "validate_region"]

_USER_AGENT = "s3kit/0.1"
_SMALL_BODY = 64 * 1024  # below this the built-in SHA-256 beats loading OpenSSL's
_REDIRECT_CODES = frozenset({"PermanentRedirect", "AuthorizationHeaderMalformed",
                             "IllegalLocationConstraintException", "TemporaryRedirect"})
_MAX_ERROR_BODY = 1 << 20


_patterns: dict[str, Pattern[str]] = {}


def _pattern(name: str) -> Pattern[str]:
    """Compiled on first use: importing re costs more than a whole small request."""
    p = _patterns.get(name)
    if p is None:
        import re

        p = _patterns[name] = re.compile({"ip": r"^\d+\.\d+\.\d+\.\d+$",
                                          "bucket": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"}[name])
    return p


def validate_bucket_name(name: object, *, strict: bool) -> str:
    """Check a bucket name. ``strict`` applies S3's full naming rules (used on create)."""
    if not isinstance(name, str):
        raise InvalidType(f"bucket name must be str, not {type(name).__name__}")
    if not name or "/" in name or len(name) > 255 or any(c.isspace() for c in name):
        raise InvalidBucketName(f"invalid bucket name {name!r}", bucket=name)
    if strict:
        problem = None
        if not 3 <= len(name) <= 63:
            problem = "must be 3 to 63 characters long"
        elif not _pattern("bucket").match(name):
            problem = "may hold only a-z, 0-9, '.' and '-', and must start and end with a letter or digit"
        elif ".." in name or ".-" in name or "-." in name:
            problem = "must not contain '..', '.-' or '-.'"
        elif _pattern("ip").match(name):
            problem = "must not look like an IP address"
        elif name.startswith(("xn--", "sthree-", "amzn-s3-demo-")):
            problem = "must not start with 'xn--', 'sthree-' or 'amzn-s3-demo-'"
        elif name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")):
            problem = "must not end with a reserved suffix"
        if problem:
            raise InvalidBucketName(f"invalid bucket name {name!r}: {problem}", bucket=name)
    return name


def validate_key(key: object, bucket: str | None = None) -> str:
    if not isinstance(key, str):
        raise InvalidType(f"object key must be str, not {type(key).__name__}", bucket=bucket)
    if not key:
        raise InvalidKey("object key must not be empty", bucket=bucket)
    if len(key) > 256 and len(key.encode("utf-8", "surrogatepass")) > 1024:
        raise InvalidKey("object key longer than 1024 bytes (UTF-8)", bucket=bucket, key=key[:64] + "...")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKey("object key is not valid UTF-8 (lone surrogate)", bucket=bucket) from None
    return key


_HOST_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"
_REGION_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def validate_region(region: object, source: str, *, from_server: bool = False) -> str:
    """A region name: lower-case letters, digits and '-' only, whatever its source.

    Regions become part of host names (``s3.<region>.amazonaws.com``) and signatures: a
    string such as ``us-east-1.evil.com#`` would point requests and presigned URLs at
    another host. A bad value from the caller is :class:`InvalidArgument`; one sent by a
    server (redirects, ``x-amz-bucket-region``, GetBucketLocation) is :class:`ProtocolError`.
    """
    if isinstance(region, str) and 0 < len(region) <= 64 and not region.strip(_REGION_CHARS):
        return region
    cls = ProtocolError if from_server else InvalidArgument
    raise cls(f"invalid region {str(region)[:80]!r} from {source}: a region is made of a-z, 0-9 and '-'")


def _parse_endpoint(endpoint: str) -> tuple[str, str, int]:
    """``host[:port]`` (https) or ``http(s)://host[:port][/]`` -> (scheme, host, port).

    IPv6 literals are bracketed (``http://[::1]:9000``); the host returned is bare.
    """
    if not isinstance(endpoint, str):
        raise InvalidType("endpoint must be str")
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        scheme, rest = "https", endpoint
    scheme = scheme.lower()
    authority = rest[:-1] if rest.endswith("/") else rest
    bad = scheme not in ("http", "https") or not authority or "/" in authority or "@" in authority
    host, port_s, has_port = authority, "", False
    if authority.startswith("["):  # [IPv6]:port
        close = authority.find("]")
        host, tail = (authority[1:close], authority[close + 1:]) if close > 0 else ("", "")
        bad = bad or close < 0 or not _is_ipv6(host) or (bool(tail) and not tail.startswith(":"))
        has_port, port_s = bool(tail), tail[1:]
    elif ":" in authority:
        host, _, port_s = authority.partition(":")
        has_port = True
    bad = bad or not host or (not authority.startswith("[") and bool(host.strip(_HOST_CHARS)))
    if bad or (has_port and not (port_s.isdigit() and 0 < int(port_s) < 65536)):
        raise InvalidArgument(f"endpoint must be a host[:port], an http(s)://host[:port] URL or "
                              f"http(s)://[IPv6]:port, got {endpoint!r}")
    return scheme, host.lower(), int(port_s) if port_s else (443 if scheme == "https" else 80)


def _is_ipv6(host: str) -> bool:
    import socket

    try:
        socket.inet_pton(socket.AF_INET6, host)  # no zone ids ("%eth0"): not routable in URLs
    except (OSError, ValueError):
        return False
    return True


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"


def _is_aws_host(host: str) -> bool:
    return host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")


class _Route:
    """Where requests for one bucket go: connection target, Host header and path prefix."""

    __slots__ = ("scheme", "host", "port", "host_header", "prefix", "region")

    def __init__(self, scheme: str, host: str, port: int, prefix: str, region: str) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.host_header = _host_header(host, port, scheme)
        self.prefix = prefix
        self.region = region


class S3Client:
    """A connection to one S3 endpoint with one set of credentials. Thread-safe.

    >>> c = S3Client("http://127.0.0.1:7480", "key", "secret")   # doctest: +SKIP
    >>> c.create_bucket("photos").put("cat.jpg", b"...")          # doctest: +SKIP

    ``endpoint`` is a host (https is used) or an ``http(s)://host[:port]`` URL; ``None``
    reads ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` and falls back to AWS.
    ``addressing`` is ``"auto"``, ``"path"`` or ``"virtual"``. ``verify`` is True, False or
    the path of a CA bundle. ``timeout`` is seconds (connect and read) or a
    :class:`Timeout`. ``retry`` is a :class:`Retry`.
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
        env = os.environ
        settings: dict[str, str] = {}
        if region is not None:
            validate_region(region, "the region argument")
        if credentials_provider is not None:
            creds = credentials_provider()
            if not isinstance(creds, Credentials):
                raise InvalidType("credentials_provider must return a Credentials object")
        else:
            creds, settings = resolve_credentials(access_key, secret_key, session_token, profile, env)
        if not (region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or settings):
            try:
                settings = load_profile(profile, env)[0]
            except S3Error:
                settings = {}
        self.region: str = validate_region(resolve_region(region, settings, env),
                                           "the region argument, AWS_REGION, AWS_DEFAULT_REGION or the profile")
        if addressing not in ("auto", "path", "virtual"):
            raise InvalidArgument(f"addressing must be 'auto', 'path' or 'virtual', not {addressing!r}")
        self.addressing = addressing
        given = (endpoint or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
                 or settings.get("endpoint_url"))
        self._default_aws = not given
        self.endpoint: str = given or "s3.amazonaws.com"
        self._scheme, self._host, self._port = _parse_endpoint(self.endpoint)
        if addressing == "virtual" and (":" in self._host or _pattern("ip").match(self._host)):
            raise InvalidArgument("virtual-hosted addressing needs a host name, not an IP address endpoint")
        self._aws = _is_aws_host(self._host)
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
        self.timeout: Timeout = timeout
        self.max_connections = max_connections
        self.verify = verify
        # what a pickle carries: secrets only if they were given explicitly (see __reduce__)
        self._given = (access_key, secret_key, session_token, profile)
        self._creds = creds
        self._creds_provider = credentials_provider
        self._creds_lock = allocate_lock()
        self.retry = retry or Retry()
        self.transport = Transport(verify=verify, timeout=timeout, maxsize=max_connections)
        self._routes: dict[str | None, _Route] = {}
        self._bucket_regions: dict[str, str] = {}
        self._clock_skew = 0.0
        self._date_cache = (0, "")
        _fork.register(self)

    def _after_fork(self) -> None:
        self._creds_lock = allocate_lock()  # another thread may have held it at fork()

    def __reduce__(self) -> tuple[object, tuple[dict[str, object]]]:
        """Pickled as configuration, never as live connections: the copy reconnects on
        first use (``ProcessPoolExecutor`` under spawn, Dask workers). Credentials travel
        only if they were given explicitly (as arguments or a provider); ones found in the
        environment or profile files are looked up again where the copy is unpickled."""
        access_key, secret_key, session_token, profile = self._given
        state: dict[str, object] = {
            "endpoint": None if self._default_aws else self.endpoint,
            "access_key": access_key, "secret_key": secret_key, "session_token": session_token,
            "profile": profile, "region": self.region, "addressing": self.addressing, "verify": self.verify,
            "timeout": self.timeout, "retry": self.retry, "max_connections": self.max_connections,
            "credentials_provider": self._creds_provider,
        }
        return _rebuild_client, (state,)

    # -- context manager and repr ------------------------------------------------------------

    def __enter__(self) -> "S3Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections. The client stays usable (it reconnects on demand)."""
        self.transport.close()

    def __repr__(self) -> str:
        return f"S3Client(endpoint={self.endpoint!r}, region={self.region!r}, access_key={self._creds.access_key!r})"

    @property
    def credentials(self) -> Credentials:
        creds = self._creds
        if self._creds_provider is not None and creds.expiring():
            self._refresh_credentials()
            creds = self._creds
        return creds

    def _refresh_credentials(self) -> bool:
        if self._creds_provider is None:
            return False
        with self._creds_lock:
            self._creds = self._creds_provider()
        return True

    # -- addressing ----------------------------------------------------------------------------

    def _route(self, bucket: str | None) -> _Route:
        route = self._routes.get(bucket)
        if route is None:
            route = self._make_route(bucket)
            self._routes[bucket] = route
        return route

    def _make_route(self, bucket: str | None) -> _Route:
        region = self._bucket_regions.get(bucket, self.region) if bucket else self.region
        host = self._host
        if self._aws and self._default_aws and region != "us-east-1":
            host = f"s3.{region}.amazonaws.com"
        if bucket is None:
            return _Route(self._scheme, host, self._port, "/", region)
        virtual = self.addressing == "virtual" or (
            self.addressing == "auto"
            and self._aws
            and _pattern("bucket").match(bucket) is not None
            and not (self._scheme == "https" and "." in bucket)
        )
        if virtual:
            return _Route(self._scheme, f"{bucket}.{host}", self._port, "/", region)
        return _Route(self._scheme, host, self._port, "/" + sigv4.quote_path(bucket) + "/", region)

    def _set_bucket_region(self, bucket: str, region: str) -> None:
        self._bucket_regions[bucket] = region
        self._routes.pop(bucket, None)

    # -- the request loop ----------------------------------------------------------------------

    def _amz_date(self) -> str:
        # strftime per request is measurable; the string changes once a second
        t = int(time.time() + self._clock_skew)
        cached = self._date_cache
        if cached[0] != t:
            cached = (t, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t)))
            self._date_cache = cached
        return cached[1]

    def _request(
        self,
        method: str,
        bucket: str | None = None,
        key: str | None = None,
        *,
        query: Mapping[str, str | None] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        length: int | None = None,
        payload_hash: str | None = None,
        stream: bool = False,
        max_body: int | None = None,
        error_in_body: bool = False,
        check: Callable[[HTTPResult], S3Error | None] | None = None,
        attempts: list[int] | None = None,
    ) -> Any:
        """Sign and send one S3 request with retries; raise the S3Error for a failed answer.

        ``body`` is bytes-like or a binary file (then ``length`` and usually
        ``payload_hash`` are given). Returns an HTTPResult, or a StreamingBody if ``stream``.
        ``error_in_body``: a 200 answer may carry an ``<Error>`` (CopyObject,
        CompleteMultipartUpload) and is then treated as that error. ``check`` validates a
        2xx answer (checksums, ranges) inside the retry loop: an error it returns is
        retried like a failed request. ``attempts`` receives the number of tries made.
        """
        hdrs: dict[str, str] = {}
        if body is not None and not hasattr(body, "read"):
            body = byte_view(body)  # len() of what goes out is its byte count
        if body is None or isinstance(body, (bytes, bytearray, memoryview)):
            n = len(body) if body is not None else 0
            if payload_hash is None:
                if not n or body is None:
                    payload_hash = sigv4.EMPTY_SHA256
                elif self._scheme == "https":
                    # TLS protects the bytes in flight; Content-MD5 lets the server verify
                    # them at rest without the client hashing twice.
                    import hashlib  # OpenSSL is loaded for TLS anyway

                    payload_hash = sigv4.UNSIGNED_PAYLOAD
                    hdrs["content-md5"] = b2a_base64(hashlib.md5(body).digest(), newline=False).decode()
                elif n <= _SMALL_BODY:
                    payload_hash = sha256(body).hexdigest()
                else:
                    import hashlib  # OpenSSL's SHA-256 is several times faster on large bodies

                    payload_hash = hashlib.sha256(body).hexdigest()
        else:
            if length is None:
                raise InvalidArgument("a stream body needs its length")
            n = length
            if payload_hash is None:
                payload_hash = sigv4.UNSIGNED_PAYLOAD
        if n or method in ("PUT", "POST"):
            hdrs["content-length"] = str(n)
        if headers:
            hdrs.update(headers)
        qs = sigv4.canonical_query(query) if query else ""
        path_key = sigv4.quote_path(key) if key else ""
        start = rewind_point(body)
        replayable = body is None or isinstance(body, (bytes, bytearray, memoryview)) or start is not None
        retry = self.retry
        attempt = 0
        redirected = refreshed = False
        total = self.timeout.total
        deadline = time.monotonic() + total if total is not None else None
        while True:
            attempt += 1
            route = self._route(bucket)
            path = route.prefix + path_key
            creds = self.credentials
            h = dict(hdrs)
            h["host"] = route.host_header
            h["x-amz-date"] = amz = self._amz_date()
            h["x-amz-content-sha256"] = payload_hash
            if creds.session_token:
                h["x-amz-security-token"] = creds.session_token
            h["authorization"] = sigv4.authorization(
                method, path, qs, h, payload_hash,
                access_key=creds.access_key, secret_key=creds.secret_key,
                region=route.region, amz_date_=amz,
            )
            h["user-agent"] = _USER_AGENT
            target = f"{path}?{qs}" if qs else path
            try:
                res = self.transport.request(
                    route.scheme, route.host, route.port, method, target, h, body,
                    stream=stream, max_body=max_body, deadline=deadline,
                )
                if res.status >= 300 or (error_in_body and _is_error_document(res.body)):  # type: ignore[union-attr]
                    err = self._error_from(res, method, bucket, key)
                else:
                    bad = check(res) if check is not None else None  # type: ignore[arg-type]
                    if bad is None:
                        retry.on_success()
                        if attempts is not None:
                            attempts.append(attempt)
                        return res
                    err = bad
            except S3Error as e:
                if e.bucket is None:
                    e.bucket, e.key = bucket, key
                err = e
            # -- the request failed: decide whether to go again ------------------------------
            if attempts is not None:
                attempts.append(attempt)
            delay, by_policy = 0.0, False
            if bucket and not redirected and self._follow_region(err, bucket, route.region):
                redirected = True  # re-signed for the bucket's region, at once
            elif err.code == "ExpiredToken" and not refreshed and self._refresh_credentials():
                refreshed = True
            elif err.code == "RequestTimeTooSkewed" and not self._fix_clock(err):
                raise err  # no server Date to correct the clock from: retrying cannot help
            elif not retry.should_retry(err, attempt):
                raise err
            else:
                by_policy = True
                if err.code != "RequestTimeTooSkewed":  # the clock was the problem, not load
                    delay = retry.delay(attempt)
            if not replayable:
                raise TransportError(
                    f"{err}; not retried: the request body is a one-shot stream that was already sent",
                    code=err.code, status=err.status, bucket=bucket, key=key,
                ) from err
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise OperationTimeout(
                    f"Timeout.total ({total:g} s) runs out before retry {attempt}; last error: {err}",
                    bucket=bucket, key=key) from err
            if by_policy:
                _log_retry(method, bucket, key, err, attempt, delay)
                time.sleep(delay)
            if start is not None:
                body.seek(start)  # type: ignore[union-attr]

    def _error_from(self, res: HTTPResult | StreamingBody, method: str,
                    bucket: str | None, key: str | None) -> S3Error:
        if isinstance(res, StreamingBody):
            try:
                data = res.read(_MAX_ERROR_BODY)
            finally:
                res.close()
        else:
            data = res.body
        headers = res.headers
        from .xmlcodec import parse_error

        info = parse_error(data)
        rid = info.request_id or headers.get("x-amz-request-id") or headers.get("x-amzn-requestid")
        err = error_for(res.status, info.code, info.message, method=method,
                        request_id=rid, bucket=bucket, key=key)
        region = info.region or headers.get("x-amz-bucket-region")
        err.region = validate_region(region, "the server's redirect", from_server=True) if region else None
        err.date = headers.get("date")
        if res.status in (301, 307) and not info.code:
            err.code = "PermanentRedirect" if res.status == 301 else "TemporaryRedirect"
        return err

    def _follow_region(self, err: S3Error, bucket: str, used: str) -> bool:
        """Re-target a bucket whose region differs from the one we signed for."""
        region = err.region
        if err.code not in _REDIRECT_CODES and err.status not in (301, 307) and not region:
            return False
        if not region or region == used:
            return False
        from ._log import logger

        logger().debug("bucket %r is in region %s, not %s: re-signing", bucket, region, used)
        self._set_bucket_region(bucket, region)
        return True

    def _fix_clock(self, err: S3Error) -> bool:
        date = err.date
        if not date:
            return False
        from email.utils import parsedate_to_datetime

        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return False
        self._clock_skew = server - time.time()
        self._date_cache = (0, "")
        from ._log import logger

        logger().debug("clock skew %.1f s corrected from the server's Date header", self._clock_skew)
        return True

    # -- bucket operations ------------------------------------------------------------------

    def bucket(self, name: str) -> "S3Bucket":
        """A handle on a bucket; no request is made."""
        from .bucket import S3Bucket

        return S3Bucket(self, validate_bucket_name(name, strict=False))

    def get_bucket(self, name: str) -> "S3Bucket":
        """The bucket if it exists, else :class:`NoSuchBucket`."""
        b = self.bucket(name)
        self._request("HEAD", name)
        return b

    def bucket_exists(self, name: str) -> bool:
        validate_bucket_name(name, strict=False)
        try:
            self._request("HEAD", name)
        except NoSuchBucket:
            return False
        return True

    def create_bucket(self, name: str, *, region: str | None = None) -> "S3Bucket":
        """Create a bucket; :class:`BucketAlreadyExists` if the name is taken, even by you.

        Outside us-east-1 the region is sent as ``LocationConstraint``.
        """
        validate_bucket_name(name, strict=True)
        region = validate_region(region, "create_bucket(region=...)") if region is not None else self.region
        # S3 answers 200 to re-creating a bucket you own (us-east-1, Ceph, moto); ask first
        # so that "create" keeps its meaning.
        try:
            self._request("HEAD", name)
        except NoSuchBucket:
            pass
        except AccessDenied as e:
            raise BucketAlreadyExists("the bucket name is taken by another account",
                                      status=e.status, bucket=name, request_id=e.request_id) from None
        else:
            raise BucketAlreadyExists("you already own this bucket", code="BucketAlreadyOwnedByYou",
                                      status=200, bucket=name)
        body = None
        if region != "us-east-1":
            from .xmlcodec import build_create_bucket

            body = build_create_bucket(region)
        if region != self.region:
            self._set_bucket_region(name, region)
        self._request("PUT", name, body=body)
        return self.bucket(name)

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket; no error if it does not exist (BucketNotEmpty if not empty)."""
        validate_bucket_name(name, strict=False)
        try:
            self._request("DELETE", name)
        except NoSuchBucket:
            pass
        self._routes.pop(name, None)

    def list_buckets(self) -> list["S3Bucket"]:
        """Every bucket the credentials own (``[]`` when none)."""
        from .bucket import S3Bucket
        from .models import parse_iso_date
        from .xmlcodec import parse_list_buckets

        res = self._request("GET")
        out = []
        for name, created in parse_list_buckets(res.body):
            b = S3Bucket(self, name)
            b.creation_date = parse_iso_date(created) if created else None
            out.append(b)
        return out

    def bucket_region(self, name: str) -> str:
        """The region a bucket lives in (HeadBucket's header, else GetBucketLocation)."""
        validate_bucket_name(name, strict=False)
        cached = self._bucket_regions.get(name)
        if cached:
            return cached
        try:
            res = self._request("HEAD", name)
            region = res.headers.get("x-amz-bucket-region")
        except S3Error as e:  # a redirect or denial may still name the region; 404 etc. raise
            region = e.region
            if not region and e.status not in (301, 400, 403):
                raise
        if not region:
            from .xmlcodec import parse_location

            region = parse_location(self._request("GET", name, query={"location": None}).body)
        region = validate_region(region, "the server's bucket location", from_server=True)
        if region != self.region:
            self._set_bucket_region(name, region)
        return str(region)

    def presign_url(self, method: str, bucket: str, key: str | None, *, expires: int = 3600,
                    query: Mapping[str, str | None] | None = None) -> str:
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise InvalidType("expires must be an int number of seconds")
        if not 1 <= expires <= sigv4.MAX_PRESIGN_EXPIRES:
            raise InvalidArgument(f"expires must be between 1 s and 7 days, got {expires}")
        method = method.upper()
        if method not in ("GET", "PUT", "HEAD", "DELETE", "POST"):
            raise InvalidArgument(f"cannot presign method {method!r}")
        route = self._route(bucket)
        creds = self.credentials
        path = route.prefix + (sigv4.quote_path(key) if key else "")
        qs = sigv4.presign_query(
            method, route.host_header, path, query or {},
            access_key=creds.access_key, secret_key=creds.secret_key,
            session_token=creds.session_token, region=route.region,
            amz_date_=self._amz_date(), expires=expires,
        )
        return f"{route.scheme}://{route.host_header}{path}?{qs}"


def _rebuild_client(state: dict[str, Any]) -> S3Client:
    return S3Client(**state)


def _is_error_document(body: bytes) -> bool:
    from .xmlcodec import is_error_document

    return is_error_document(body)


def _log_retry(method: str, bucket: str | None, key: str | None, err: S3Error,
               attempt: int, delay: float) -> None:
    from ._log import logger

    log = logger()
    if log.isEnabledFor(10):
        where = f"{bucket}/{key}" if key else (bucket or "/")
        log.debug("retry %d after %s on %s %s (%s); waiting %.3f s",
                  attempt, err.code, method, where, err.message[:200], delay)
