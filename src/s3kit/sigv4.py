"""AWS Signature Version 4 for S3: pure functions, no I/O.

S3 rules differ from generic SigV4: the path is the object key percent-encoded once
(``/`` kept) and never normalised, so ``a//b/../c`` is signed as written.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

try:  # the interpreter's built-in SHA-256: importing hashlib would load OpenSSL (~2.5 ms)
    from _sha2 import sha256  # type: ignore[import-not-found]  # Python >= 3.12
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # 3.10-3.11
    except ImportError:  # builds without the built-in hashes
        from hashlib import sha256  # type: ignore[assignment,no-redef,unused-ignore]

__all__ = ["sha256", "hmac_sha256", "quote_path", "quote_param", "canonical_query",
           "signing_key", "canonical_request", "string_to_sign", "authorization", "presign_query"]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

# Headers a proxy or the HTTP layer may add or rewrite; signing them breaks requests.
_UNSIGNED_HEADERS = frozenset({"user-agent", "expect", "content-length", "transfer-encoding",
                               "connection", "x-amzn-trace-id", "accept-encoding"})

_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) on the built-in hash; the hmac module would pull in OpenSSL."""
    if len(key) > 64:
        key = sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = sha256(key.translate(_IPAD))
    inner.update(msg)
    outer = sha256(key.translate(_OPAD))
    outer.update(inner.digest())
    return outer.digest()  # type: ignore[no-any-return]


_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_PCT = [chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in range(256)]
_PCT_SLASH = list(_PCT)
_PCT_SLASH[ord("/")] = "/"
_SAFE = _UNRESERVED
_SAFE_SLASH = _UNRESERVED + b"/"


def _encode(s: str, table: list[str], safe: bytes) -> str:
    b = s.encode("utf-8")
    if not b.translate(None, safe):  # nothing to escape: the common case, all in C
        return s
    return "".join([table[c] for c in b])


def quote_path(key: str) -> str:
    """Percent-encode a key for the URI path (RFC 3986 unreserved and ``/`` kept)."""
    return _encode(key, _PCT_SLASH, _SAFE_SLASH)


def quote_param(value: str) -> str:
    """Percent-encode a query name or value (space is ``%20``, ``/`` is ``%2F``)."""
    return _encode(value, _PCT, _SAFE)


def canonical_query(params: Mapping[str, str | None] | Iterable[tuple[str, str | None]]) -> str:
    """The canonical (and wire) query string: encoded, sorted, ``key=`` for value-less."""
    items = params.items() if hasattr(params, "items") else params
    encoded = sorted((quote_param(k), quote_param(v) if v else "") for k, v in items)
    return "&".join(f"{k}={v}" for k, v in encoded)


_key_cache: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret_key: str, date: str, region: str, service: str = "s3") -> bytes:
    """HMAC chain for (secret, date, region, service); cached, it changes once a day."""
    ck = (secret_key, date, region, service)
    key = _key_cache.get(ck)
    if key is None:
        k = hmac_sha256(("AWS4" + secret_key).encode(), date.encode())
        k = hmac_sha256(k, region.encode())
        k = hmac_sha256(k, service.encode())
        key = hmac_sha256(k, b"aws4_request")
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
    return f"{ALGORITHM}\n{amz_date_}\n{scope}\n{sha256(creq.encode()).hexdigest()}"


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
    sig = hmac_sha256(signing_key(secret_key, date, region, service), sts.encode()).hex()
    return f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={sig}"


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
    sig = hmac_sha256(signing_key(secret_key, date, region, service), sts.encode()).hex()
    return f"{query}&X-Amz-Signature={sig}"
