"""AWS Signature Version 4 for S3: pure functions, no I/O.

S3 rules differ from generic SigV4: the path is the object key percent-encoded once
(``/`` kept) and never normalised, so ``a//b/../c`` is signed as written.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Iterable, Mapping
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

# Headers a proxy or the HTTP layer may add or rewrite; signing them breaks requests.
_UNSIGNED_HEADERS = frozenset({"user-agent", "expect", "content-length", "transfer-encoding",
                               "connection", "x-amzn-trace-id", "accept-encoding"})


def quote_path(key: str) -> str:
    """Percent-encode a key for the URI path (RFC 3986 unreserved and ``/`` kept)."""
    return quote(key, safe="/~")


def quote_param(value: str) -> str:
    """Percent-encode a query name or value (space is ``%20``, ``/`` is ``%2F``)."""
    return quote(value, safe="~")


def canonical_query(params: Mapping[str, str | None] | Iterable[tuple[str, str | None]]) -> str:
    """The canonical (and wire) query string: encoded, sorted, ``key=`` for value-less."""
    items = params.items() if isinstance(params, Mapping) else params
    encoded = sorted((quote_param(k), quote_param(v) if v else "") for k, v in items)
    return "&".join(f"{k}={v}" for k, v in encoded)


def amz_date(now: float | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ`` for a POSIX time (default: now)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


_key_cache: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret_key: str, date: str, region: str, service: str = "s3") -> bytes:
    """HMAC chain for (secret, date, region, service); cached, it changes once a day."""
    ck = (secret_key, date, region, service)
    key = _key_cache.get(ck)
    if key is None:
        k = hmac.digest(("AWS4" + secret_key).encode(), date.encode(), "sha256")
        k = hmac.digest(k, region.encode(), "sha256")
        k = hmac.digest(k, service.encode(), "sha256")
        key = hmac.digest(k, b"aws4_request", "sha256")
        if len(_key_cache) > 64:  # many regions/days in one process: keep it bounded
            _key_cache.clear()
        _key_cache[ck] = key
    return key


def _canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    names = sorted(n for n in headers if n not in _UNSIGNED_HEADERS)
    lines = []
    for n in names:
        v = headers[n]
        if "  " in v or "\n" in v or v[:1] == " " or v[-1:] == " ":
            v = " ".join(v.split())  # trim and collapse inner whitespace runs
        lines.append(f"{n}:{v}\n")
    return "".join(lines), ";".join(names)


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], payload_hash: str
) -> tuple[str, str]:
    """Return (canonical request, signed headers). ``headers`` have lower-case names."""
    canon_headers, signed = _canonical_headers(headers)
    return f"{method}\n{path}\n{query}\n{canon_headers}\n{signed}\n{payload_hash}", signed


def string_to_sign(amz_date_: str, scope: str, creq: str) -> str:
    return f"{ALGORITHM}\n{amz_date_}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"


def authorization(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_hash: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    amz_date_: str,
    service: str = "s3",
) -> str:
    """The ``Authorization`` header value for a request.

    ``path`` is already encoded (see :func:`quote_path`), ``query`` is canonical (see
    :func:`canonical_query`), ``headers`` must include ``host`` and ``x-amz-date``.
    """
    date = amz_date_[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    creq, signed = canonical_request(method, path, query, headers, payload_hash)
    sts = string_to_sign(amz_date_, scope, creq)
    sig = hmac.new(signing_key(secret_key, date, region, service), sts.encode(), "sha256")
    return (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, "
        f"Signature={sig.hexdigest()}"
    )


def presign_query(
    method: str,
    host: str,
    path: str,
    params: Mapping[str, str | None],
    *,
    access_key: str,
    secret_key: str,
    session_token: str | None,
    region: str,
    amz_date_: str,
    expires: int,
    service: str = "s3",
) -> str:
    """The full query string of a presigned URL (only ``host`` is signed)."""
    date = amz_date_[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    q: dict[str, str | None] = dict(params)
    q["X-Amz-Algorithm"] = ALGORITHM
    q["X-Amz-Credential"] = f"{access_key}/{scope}"
    q["X-Amz-Date"] = amz_date_
    q["X-Amz-Expires"] = str(expires)
    q["X-Amz-SignedHeaders"] = "host"
    if session_token:
        q["X-Amz-Security-Token"] = session_token
    query = canonical_query(q)
    creq, _ = canonical_request(method, path, query, {"host": host}, UNSIGNED_PAYLOAD)
    sts = string_to_sign(amz_date_, scope, creq)
    sig = hmac.new(signing_key(secret_key, date, region, service), sts.encode(), "sha256")
    return f"{query}&X-Amz-Signature={sig.hexdigest()}"
