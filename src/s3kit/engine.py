"""The request seam: one S3 request, from what an operation wants to what the wire carries
and back. Pure: it builds, signs, interprets and decides; drivers send, receive and sleep.

    S3Request (method, bucket, key, query, headers, body, payload policy)
      -> payload digests                          (integrity.payload_digests)
      -> route: endpoint + bucket + region        (config.route)
      -> signed WireRequest                       (sigv4.authorization)
      -> yield Send(...)                          (a driver: sync pool or asyncio)
      -> answer: result, or the specific S3Error  (errors.error_for, xmlcodec.parse_error)
      -> next step: return | re-sign for the bucket's region | refresh credentials |
                    correct the clock | retry after a delay (retry.Attempts) | raise

:meth:`Engine.send` is that loop, written once as a flow (see ``flow.py``); every operation
in ``operations.py`` and every transfer in ``transfer.py`` goes through it. An engine holds
one client's shared state: endpoint, default region, learned bucket regions, clock skew,
credentials, retry policy and timeouts. It is safe to share between threads and tasks.
"""

from __future__ import annotations

import time

from . import sigv4
from ._log import logger
from .config import Endpoint, Route, route, validate_region
from .errors import InvalidArgument, S3Error, TransportError, error_for
from .flow import Call, Send, Sleep, WireRequest
from .integrity import payload_digests
from .payload import byte_view, rewind_point
from .retry import Attempts
from .xmlcodec import is_error_document, parse_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Protocol

    from .credentials import Credentials
    from .flow import Flow
    from .retry import Retry
    from .transport import HTTPResult, Timeout

    class CredentialSource(Protocol):
        """What the engine needs from credentials (``credentials.RefreshingCredentials``):
        the current ones, refreshed when they near expiry, and new ones after the server
        rejected ``stale`` ones (``ExpiredToken``)."""

        def current(self) -> Flow[Credentials]: ...

        def force_refresh(self, stale: Credentials | None = None) -> Flow[Credentials]: ...

        @property
        def credentials(self) -> Credentials | None: ...

        @property
        def source(self) -> str | None: ...

__all__ = ["S3Request", "Engine", "USER_AGENT"]

USER_AGENT = "s3kit/0.2"
_REDIRECT_CODES = frozenset({"PermanentRedirect", "AuthorizationHeaderMalformed",
                             "IllegalLocationConstraintException", "TemporaryRedirect"})
_OFFLOAD = 1 << 20  # hashing more than this goes to Call (a thread under asyncio)
_BYTES = (bytes, bytearray, memoryview)


class S3Request:
    """What an operation wants sent: a plain value, no I/O.

    ``body`` is None, bytes-like or a readable binary stream (then ``length`` is given and
    usually ``payload_hash``). ``stream``: return the answer with its body unread.
    ``error_in_body``: a 200 answer may carry an ``<Error>`` (CopyObject,
    CompleteMultipartUpload). ``check`` validates a 2xx answer inside the retry loop
    (checksums, ranges): an error it returns is retried like a failed request.
    After :meth:`Engine.send`, ``tries`` says how many tries were made.
    """

    __slots__ = ("method", "bucket", "key", "query", "headers", "body", "length", "payload_hash", "stream",
                 "max_body", "error_in_body", "check", "tries")

    def __init__(self, method: str, bucket: str | None = None, key: str | None = None, *,
                 query: Mapping[str, str | None] | None = None, headers: Mapping[str, str] | None = None,
                 body: Any = None, length: int | None = None, payload_hash: str | None = None,
                 stream: bool = False, max_body: int | None = None, error_in_body: bool = False,
                 check: Callable[[HTTPResult], S3Error | None] | None = None) -> None:
        self.method = method
        self.bucket = bucket
        self.key = key
        self.query = query
        self.headers = headers
        self.body = body
        self.length = length
        self.payload_hash = payload_hash
        self.stream = stream
        self.max_body = max_body
        self.error_in_body = error_in_body
        self.check = check
        self.tries = 0


class Engine:
    """One client's request state and decisions. No sockets, no sleeping."""

    def __init__(self, endpoint: Endpoint, region: str, credentials: CredentialSource, retry: Retry,
                 timeout: Timeout) -> None:
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.retry = retry
        self.timeout = timeout
        self._routes: dict[str | None, Route] = {}
        self._bucket_regions: dict[str, str] = {}
        self.clock_skew = 0.0
        self._date_cache = (0, "")

    # -- addressing ------------------------------------------------------------------------

    def route(self, bucket: str | None) -> Route:
        r = self._routes.get(bucket)
        if r is None:
            region = self._bucket_regions.get(bucket, self.region) if bucket else self.region
            r = self._routes[bucket] = route(self.endpoint, bucket, region)
        return r

    def known_region(self, bucket: str) -> str | None:
        return self._bucket_regions.get(bucket)

    def set_bucket_region(self, bucket: str, region: str) -> None:
        self._bucket_regions[bucket] = region
        self._routes.pop(bucket, None)

    def forget_bucket(self, bucket: str) -> None:
        self._routes.pop(bucket, None)

    # -- time ------------------------------------------------------------------------------

    def amz_date(self) -> str:
        # strftime per request is measurable; the string changes once a second
        t = int(time.time() + self.clock_skew)
        cached = self._date_cache
        if cached[0] != t:
            cached = (t, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t)))
            self._date_cache = cached
        return cached[1]

    def _fix_clock(self, err: S3Error) -> bool:
        from email.utils import parsedate_to_datetime  # rare (after RequestTimeTooSkewed) and 18 ms to import

        try:
            server = parsedate_to_datetime(err.date or "").timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        self.clock_skew = server - time.time()
        self._date_cache = (0, "")
        logger().debug("clock skew %.1f s corrected from the server's Date header", self.clock_skew)
        return True

    # -- the request loop ------------------------------------------------------------------

    def send(self, req: S3Request) -> Flow[Any]:
        """Send ``req`` with retries; return the HTTPResult (or the streaming body), or raise
        the S3Error for a failed answer."""
        body = req.body
        hdrs: dict[str, str] = {}
        if body is not None and not hasattr(body, "read"):
            body = byte_view(body)  # len() of what goes out is its byte count
        if body is None or isinstance(body, _BYTES):
            n = len(body) if body is not None else 0
            payload_hash = req.payload_hash
            if payload_hash is None:
                digests = payload_digests if n <= _OFFLOAD else None
                payload_hash, md5 = (digests(body, self.endpoint.https) if digests is not None
                                     else (yield Call(payload_digests, body, self.endpoint.https)))
                if md5 is not None:
                    hdrs["content-md5"] = md5
        else:
            if req.length is None:
                raise InvalidArgument("a stream body needs its length")
            n = req.length
            payload_hash = req.payload_hash or sigv4.UNSIGNED_PAYLOAD
        if n or req.method in ("PUT", "POST"):
            hdrs["content-length"] = str(n)
        if req.key and req.method in ("GET", "HEAD"):
            # servers that store checksums (AWS, SeaweedFS) return them only when asked;
            # others ignore the header
            hdrs["x-amz-checksum-mode"] = "ENABLED"
        if req.headers:
            hdrs.update(req.headers)
        qs = sigv4.canonical_query(req.query) if req.query else ""
        path_key = sigv4.quote_path(req.key) if req.key else ""
        start = rewind_point(body)
        replayable = body is None or isinstance(body, _BYTES) or start is not None
        attempts = Attempts(self.retry, self.timeout.total, f"{req.method} {_where(req)}")
        redirected = refreshed = False
        while True:
            creds = yield from self.credentials.current()
            rt = self.route(req.bucket)
            wire = self._sign(req, rt, path_key, qs, hdrs, payload_hash, body, creds, attempts.deadline)
            req.tries = attempts.number
            try:
                res = yield Send(wire)
            except S3Error as e:
                if e.bucket is None:
                    e.bucket, e.key = req.bucket, req.key
                err = e
            else:
                bad: S3Error | None = yield from self._interpret(req, res)
                if bad is None:
                    self.retry.on_success()
                    return res
                err = bad
            # -- the request failed: decide whether (and when) to go again --------------------
            delay = 0.0
            if req.bucket and not redirected and self._follow_region(err, req.bucket, rt.region):
                redirected = True  # re-signed for the bucket's region, at once
                attempts.again()
            elif err.code == "ExpiredToken" and not refreshed and (yield from self._renewed(creds)):
                refreshed = True
                attempts.again()
            elif err.code == "RequestTimeTooSkewed":
                if not self._fix_clock(err):
                    raise err  # no server Date to correct the clock from: retrying cannot help
                attempts.retry(err)  # counted, but no wait: the clock was the problem, not load
            else:
                delay = attempts.retry(err)
            if not replayable:
                raise TransportError(
                    f"{err}; not retried: the request body is a one-shot stream that was already sent",
                    code=err.code, status=err.status, bucket=req.bucket, key=req.key,
                ) from err
            if delay:
                yield Sleep(delay)
            if start is not None:
                body.seek(start)

    def _renewed(self, stale: Credentials) -> Flow[bool]:
        """After ``ExpiredToken``: whether refreshing gave different credentials to retry with."""
        fresh = yield from self.credentials.force_refresh(stale)
        return fresh is not stale and (fresh.access_key, fresh.secret_key, fresh.session_token) != (
            stale.access_key, stale.secret_key, stale.session_token)

    def _sign(self, req: S3Request, rt: Route, path_key: str, qs: str, hdrs: dict[str, str], payload_hash: str,
              body: Any, creds: Credentials, deadline: float | None) -> WireRequest:
        path = rt.prefix + path_key
        h = dict(hdrs)
        h["host"] = rt.host_header
        h["x-amz-date"] = amz = self.amz_date()
        h["x-amz-content-sha256"] = payload_hash
        if creds.session_token:
            h["x-amz-security-token"] = creds.session_token
        h["authorization"] = sigv4.authorization(
            req.method, path, qs, h, payload_hash,
            access_key=creds.access_key, secret_key=creds.secret_key, region=rt.region, amz_date_=amz,
        )
        h["user-agent"] = USER_AGENT
        return WireRequest(req.method, rt.scheme, rt.host, rt.port, f"{path}?{qs}" if qs else path, h, body,
                           stream=req.stream, max_body=req.max_body, deadline=deadline)

    def _interpret(self, req: S3Request, res: Any) -> Flow[S3Error | None]:
        """The error a 2xx-or-not answer means, or None when it is the result."""
        if res.status >= 300:
            return self.error_from(res, req)
        if req.error_in_body:
            if is_error_document(res.body):
                return self.error_from(res, req)
        check = req.check
        if check is None:
            return None
        body = getattr(res, "body", None)
        if body is not None and len(body) > _OFFLOAD:
            err: S3Error | None = yield Call(check, res)  # hashing a large body: off the event loop
            return err
        return check(res)

    def error_from(self, res: HTTPResult, req: S3Request) -> S3Error:
        """The specific S3Error an error answer means (its XML, else its status)."""
        headers = res.headers
        info = parse_error(res.body)
        rid = info.request_id or headers.get("x-amz-request-id") or headers.get("x-amzn-requestid")
        err = error_for(res.status, info.code, info.message, method=req.method,
                        request_id=rid, bucket=req.bucket, key=req.key)
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
        logger().debug("bucket %r is in region %s, not %s: re-signing", bucket, region, used)
        self.set_bucket_region(bucket, region)
        return True

    # -- presigned URLs ----------------------------------------------------------------------

    def presign(self, creds: Credentials, method: str, bucket: str | None, key: str | None, *, expires: int,
                query: Mapping[str, str | None] | None = None) -> str:
        rt = self.route(bucket)
        path = rt.prefix + (sigv4.quote_path(key) if key else "")
        qs = sigv4.presign_query(
            method, rt.host_header, path, query or {},
            access_key=creds.access_key, secret_key=creds.secret_key,
            session_token=creds.session_token, region=rt.region,
            amz_date_=self.amz_date(), expires=expires,
        )
        return f"{rt.scheme}://{rt.host_header}{path}?{qs}"


def _where(req: S3Request) -> str:
    return f"{req.bucket}/{req.key}" if req.key else (req.bucket or "/")
