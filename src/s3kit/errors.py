"""The exception tree: every error s3kit raises is an :class:`S3Error`.

Errors carry what a person needs to act on them (S3 code, HTTP status, request id,
bucket, key) and never a credential.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "S3Error",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidKey",
    "InvalidType",
    "CredentialsError",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "BucketAlreadyExists",
    "BucketNotEmpty",
    "AccessDenied",
    "InvalidRange",
    "PreconditionFailed",
    "NotModified",
    "ChecksumMismatch",
    "TransportError",
    "ConnectTimeout",
    "ReadTimeout",
    "PoolTimeout",
    "OperationTimeout",
    "IncompleteBody",
    "LocalFileChanged",
    "DeleteError",
    "ProtocolError",
    "EventLoopError",
    "error_for",
]


class S3Error(Exception):
    """Base of every error s3kit raises.

    Attributes: ``code`` (S3 error code such as ``NoSuchKey``), ``message``,
    ``status`` (HTTP status, 0 when no response arrived), ``request_id``,
    ``bucket`` and ``key`` (when known).
    """

    default_code = "S3Error"
    region: str | None = None  # region named by a redirect answer, if any
    date: str | None = None  # server Date header, for clock-skew correction

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int = 0,
        request_id: str | None = None,
        bucket: str | None = None,
        key: str | None = None,
        retryable: bool = False,
    ) -> None:
        self.code = code or self.default_code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.bucket = bucket
        self.key = key
        self.retryable = retryable
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [f"{self.code}: {self.message}" if self.message else self.code]
        where = []
        if self.bucket is not None:
            where.append(f"bucket={self.bucket!r}")
        if self.key is not None:
            where.append(f"key={self.key!r}")
        if self.status:
            where.append(f"status={self.status}")
        if self.request_id:
            where.append(f"request_id={self.request_id}")
        if where:
            parts.append("(" + ", ".join(where) + ")")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # keyword-only __init__ needs help to survive pickling (multiprocessing users)
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[S3Error], message: str, state: dict[str, object]) -> S3Error:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


# --- raised before any request is sent -------------------------------------------------


class InvalidArgument(S3Error, ValueError):
    """A bad value given by the caller; nothing was sent."""

    default_code = "InvalidArgument"


class InvalidBucketName(InvalidArgument):
    default_code = "InvalidBucketName"


class InvalidKey(InvalidArgument):
    default_code = "InvalidKey"


class InvalidType(S3Error, TypeError):
    """A value of the wrong type (for example ``str`` where bytes are needed)."""

    default_code = "InvalidType"


class CredentialsError(S3Error):
    default_code = "MissingCredentials"


class LocalFileChanged(S3Error):
    """A local file changed (size or content) while it was being uploaded; nothing was kept."""

    default_code = "LocalFileChanged"


# --- answered by the server -------------------------------------------------------------


class NoSuchBucket(S3Error):
    default_code = "NoSuchBucket"


class NoSuchKey(S3Error):
    default_code = "NoSuchKey"


class NoSuchUpload(S3Error):
    default_code = "NoSuchUpload"


class BucketAlreadyExists(S3Error):
    """The name is taken; ``code`` tells whether by you (``BucketAlreadyOwnedByYou``)."""

    default_code = "BucketAlreadyExists"


class BucketNotEmpty(S3Error):
    default_code = "BucketNotEmpty"


class AccessDenied(S3Error):
    default_code = "AccessDenied"


class InvalidRange(S3Error):
    default_code = "InvalidRange"


class PreconditionFailed(S3Error):
    default_code = "PreconditionFailed"


class NotModified(S3Error):
    default_code = "NotModified"


class DeleteError(S3Error):
    """Some keys of a batch delete failed; ``failures`` lists ``(key, code, message)``.
    The other keys were deleted."""

    default_code = "DeleteObjectsFailed"
    failures: list[tuple[str, str, str]]

    def __init__(self, message: str = "", *, failures: list[tuple[str, str, str]] | None = None,
                 **kw: object) -> None:
        self.failures = list(failures or [])
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ChecksumMismatch(S3Error):
    """Bytes received (or stored) do not match their checksum; nothing was returned."""

    default_code = "ChecksumMismatch"


# --- no (complete) answer ---------------------------------------------------------------


class TransportError(S3Error):
    """The connection failed: refused, reset, TLS, DNS, proxy."""

    default_code = "TransportError"


class ConnectTimeout(TransportError):
    default_code = "ConnectTimeout"


class ReadTimeout(TransportError):
    """No byte arrived (or could be sent) for ``Timeout.read`` seconds."""

    default_code = "ReadTimeout"


class PoolTimeout(TransportError):
    """Every pooled connection stayed busy for ``Timeout.pool`` seconds (raise
    ``max_connections`` or lower the concurrency)."""

    default_code = "PoolTimeout"


class OperationTimeout(TransportError):
    """``Timeout.total`` ran out: the request and its retries took too long. Not retried."""

    default_code = "OperationTimeout"


class IncompleteBody(TransportError):
    """The response body ended before its Content-Length."""

    default_code = "IncompleteBody"


class EventLoopError(S3Error):
    """An ``AsyncS3Client`` was used from an event loop other than the one it is bound to
    (while that one is still open): one client per loop."""

    default_code = "EventLoopError"


class ProtocolError(S3Error):
    """The server answered something that is not valid S3 (bad XML, endless listing...)."""

    default_code = "ProtocolError"


_BY_CODE: dict[str, type[S3Error]] = {
    "NoSuchBucket": NoSuchBucket,
    "NoSuchKey": NoSuchKey,
    "NoSuchUpload": NoSuchUpload,
    "BucketAlreadyExists": BucketAlreadyExists,
    "BucketAlreadyOwnedByYou": BucketAlreadyExists,
    "BucketNotEmpty": BucketNotEmpty,
    "AccessDenied": AccessDenied,
    "InvalidBucketName": InvalidBucketName,
    "InvalidRange": InvalidRange,
    "PreconditionFailed": PreconditionFailed,
    "NotModified": NotModified,
    "BadDigest": ChecksumMismatch,
    "XAmzContentSHA256Mismatch": ChecksumMismatch,
    "InvalidDigest": ChecksumMismatch,
}

# Codes worth retrying (AWS SDK "standard" mode transient and throttling codes).
# ExpiredToken is not here: the client retries it only after refreshing credentials.
RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestTimeTooSkewed",  # retried once the clock offset is corrected
    }
)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def error_for(
    status: int,
    code: str | None,
    message: str,
    *,
    method: str = "GET",
    request_id: str | None = None,
    bucket: str | None = None,
    key: str | None = None,
) -> S3Error:
    """Map an HTTP status and (possibly absent) S3 code to the right exception."""
    if not code:
        # HEAD answers (and some proxies) carry no body: infer the code from the status.
        if status == 404:
            code = "NoSuchKey" if key else "NoSuchBucket"
        elif status == 403:
            code = "AccessDenied"
        elif status == 412:
            code = "PreconditionFailed"
        elif status == 304:
            code = "NotModified"
        elif status == 416:
            code = "InvalidRange"
        elif status == 503:
            code = "ServiceUnavailable"
        elif status == 500:
            code = "InternalError"
        else:
            code = f"HTTP{status}"
        if not message:
            message = _REASONS.get(status, "no error body") + (
                " (HEAD answers carry no body)" if method == "HEAD" else ""
            )
    cls = _BY_CODE.get(code, S3Error)
    retryable = code in RETRYABLE_CODES or status in RETRYABLE_STATUS
    return cls(
        message,
        code=code,
        status=status,
        request_id=request_id,
        bucket=bucket,
        key=key,
        retryable=retryable,
    )


_REASONS: Mapping[int, str] = {
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    416: "Requested Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
