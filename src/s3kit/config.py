"""Where requests go: endpoints, regions, addressing, and the checks on names. Pure.

An :class:`Endpoint` is parsed once per client; :func:`route` turns (endpoint, bucket,
region) into a :class:`Route`: the connection target, the Host header and the path prefix.
"""

from __future__ import annotations

from .errors import InvalidArgument, InvalidBucketName, InvalidKey, InvalidType, ProtocolError
from .sigv4 import quote_path

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from re import Pattern

__all__ = ["Timeout", "Endpoint", "Route", "route", "parse_endpoint", "validate_bucket_name", "validate_key",
           "validate_region", "host_header", "is_aws_host"]

_HOST_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"
_REGION_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"
_BUCKET_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-"
_patterns: dict[str, Pattern[str]] = {}


def _pattern(name: str) -> Pattern[str]:
    """Compiled on first use: importing re costs more than a whole small request."""
    p = _patterns.get(name)
    if p is None:
        import re

        p = _patterns[name] = re.compile({"ip": r"^\d+\.\d+\.\d+\.\d+$",
                                          "bucket": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"}[name])
    return p


def _dns_bucket(name: str) -> bool:
    """Usable as a DNS label for virtual-hosted addressing."""
    return (3 <= len(name) <= 63 and not name.strip(_BUCKET_CHARS) and name[0] not in ".-"
            and name[-1] not in ".-")


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


def _is_ipv6(host: str) -> bool:
    import socket

    try:
        socket.inet_pton(socket.AF_INET6, host)  # no zone ids ("%eth0"): not routable in URLs
    except (OSError, ValueError):
        return False
    return True


def parse_endpoint(endpoint: object) -> tuple[str, str, int]:
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


def host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"


def is_aws_host(host: str) -> bool:
    return host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")


class Endpoint:
    """A parsed endpoint and its addressing style."""

    __slots__ = ("url", "scheme", "host", "port", "addressing", "aws", "default_aws")

    def __init__(self, url: str | None, addressing: str = "auto") -> None:
        if addressing not in ("auto", "path", "virtual"):
            raise InvalidArgument(f"addressing must be 'auto', 'path' or 'virtual', not {addressing!r}")
        self.default_aws = not url
        self.url: str = url or "s3.amazonaws.com"
        self.scheme, self.host, self.port = parse_endpoint(self.url)
        if addressing == "virtual" and (":" in self.host or _pattern("ip").match(self.host)):
            raise InvalidArgument("virtual-hosted addressing needs a host name, not an IP address endpoint")
        self.addressing = addressing
        self.aws = is_aws_host(self.host)

    @property
    def https(self) -> bool:
        return self.scheme == "https"


class Route:
    """Where requests for one bucket go: connection target, Host header and path prefix."""

    __slots__ = ("scheme", "host", "port", "host_header", "prefix", "region")

    def __init__(self, scheme: str, host: str, port: int, prefix: str, region: str) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.host_header = host_header(host, port, scheme)
        self.prefix = prefix
        self.region = region


def route(ep: Endpoint, bucket: str | None, region: str) -> Route:
    """The route for ``bucket`` (None: the service, e.g. ListBuckets) in ``region``."""
    host = ep.host
    if ep.aws and ep.default_aws and region != "us-east-1":
        host = f"s3.{region}.amazonaws.com"
    if bucket is None:
        return Route(ep.scheme, host, ep.port, "/", region)
    virtual = ep.addressing == "virtual" or (
        ep.addressing == "auto" and ep.aws and _dns_bucket(bucket) and not (ep.https and "." in bucket))
    if virtual:
        return Route(ep.scheme, f"{bucket}.{host}", ep.port, "/", region)
    return Route(ep.scheme, host, ep.port, "/" + quote_path(bucket) + "/", region)


def _seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(f"Timeout {name} must be a number of seconds{' or None' if optional else ''}, "
                          f"not {type(value).__name__}")
    if not value > 0:
        raise InvalidArgument(f"Timeout {name} must be > 0 seconds, got {value!r}")
    return float(value)


class Timeout:
    """How long s3kit waits. All values are seconds.

    - ``connect`` (5): to open a connection (TCP and TLS).
    - ``read`` (30): for each socket read or write; a stalled body fails too.
    - ``total`` (None = unbounded): for one request including every retry and backoff,
      up to its answer's head (and a whole non-streamed body); streamed downloads are
      bounded by ``read`` per read instead, so a slow large transfer is never cut off.
    - ``pool`` (60): for a free connection when ``max_connections`` are all busy.

    Worst case with the defaults and ``Retry()`` (5 attempts) against a server that accepts
    connections and never answers: 5 x 30 s reads + backoff (< 2 s) ~ 152 s; one that
    cannot be reached at all: 5 x 5 s connects + backoff ~ 27 s. ``Timeout(total=10)``
    makes either fail after 10 s with :class:`OperationTimeout`.
    """

    __slots__ = ("connect", "read", "total", "pool")

    def __init__(self, connect: float = 5.0, read: float = 30.0, total: float | None = None,
                 pool: float = 60.0) -> None:
        self.connect: float = _seconds("connect", connect)  # type: ignore[assignment]
        self.read: float = _seconds("read", read)  # type: ignore[assignment]
        self.total = _seconds("total", total, optional=True)
        self.pool: float = _seconds("pool", pool)  # type: ignore[assignment]

    def __repr__(self) -> str:
        total = "None" if self.total is None else f"{self.total:g}"
        return f"Timeout(connect={self.connect:g}, read={self.read:g}, total={total}, pool={self.pool:g})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeout) and (self.connect, self.read, self.total, self.pool) == (
            other.connect, other.read, other.total, other.pool)

    def __hash__(self) -> int:
        return hash((self.connect, self.read, self.total, self.pool))

    def __reduce__(self) -> tuple[type[Timeout], tuple[float, float, float | None, float]]:
        return Timeout, (self.connect, self.read, self.total, self.pool)
