"""Integrity, in one place: every digest s3kit sends or checks.

- uploads: the payload policy (signed SHA-256 over http, Content-MD5 over https, where
  the server verifies either) and flexible ``x-amz-checksum-*`` values;
- downloads: the ETag as MD5, or the multipart ETag (MD5 of the parts' MD5s) recomputed
  from the part layout s3kit records at upload (:class:`PartLayout`);
- :class:`Verifier`: the streaming check used by every read path.

Flexible checksums are decided per endpoint: AWS verifies them, so uploads there carry
CRC32 by default (4 GB/s here, nearly free); other S3-compatible stores get none unless
asked, since many reject or mishandle them (botocore 1.36 turning them on by default broke
MinIO, Ceph and B2 users).
"""

from __future__ import annotations

import hashlib
import zlib
from binascii import b2a_base64
from typing import Any, NamedTuple

from .errors import ChecksumMismatch, InvalidArgument
from .sigv4 import EMPTY_SHA256, UNSIGNED_PAYLOAD, sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "md5_hex", "b64", "payload_digests", "part_digests", "is_plain_md5_etag", "composite_etag",
    "multipart_etag", "check_etag", "PartLayout", "PART_LAYOUT_META", "Verifier", "ALGORITHMS",
    "choose", "Checksum", "SMALL_BODY",
]

SMALL_BODY = 64 * 1024  # below this the built-in SHA-256 beats OpenSSL's call overhead
PART_LAYOUT_META = "s3kit-part-layout"
MAX_PART = 5 * 1024 * 1024 * 1024


def b64(raw: bytes) -> str:
    return b2a_base64(raw, newline=False).decode()


def md5_hex(data: Any) -> str:
    """Hex MD5 of bytes-like data or of an iterable of chunks (OpenSSL's MD5: several times
    the built-in one's speed on large bodies; it releases the GIL)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return hashlib.md5(data).hexdigest()
    h = hashlib.md5()
    for chunk in data:
        h.update(chunk)
    return h.hexdigest()


def payload_digests(body: bytes | bytearray | memoryview | None, https: bool) -> tuple[str, str | None]:
    """(x-amz-content-sha256, Content-MD5 or None) for an in-memory body.

    Over https, TLS protects the bytes in flight; Content-MD5 lets the server verify them at
    rest without the client hashing twice. Over http, the signed SHA-256 is verified by the
    server (and MD5, the slowest hash here, is not computed at all).
    """
    if not body:
        return EMPTY_SHA256, None
    if https:
        return UNSIGNED_PAYLOAD, b64(hashlib.md5(body).digest())
    if len(body) <= SMALL_BODY:
        return sha256(body).hexdigest(), None
    return hashlib.sha256(body).hexdigest(), None  # OpenSSL: several times faster when large


def part_digests(chunks: Iterable[Any], https: bool, checksum: str | None = None
                 ) -> tuple[dict[str, str], str | None, str | None]:
    """(headers, payload hash or None, md5 hex or None) for a part given as chunks: the one
    digest the server checks (as :func:`payload_digests`) plus the ``x-amz-checksum-*``
    header when a flexible checksum is in use, in the same pass over the data."""
    h = hashlib.md5() if https else hashlib.sha256()
    extra = Checksum(checksum) if checksum else None
    for chunk in chunks:
        h.update(chunk)
        if extra is not None:
            extra.update(chunk)
    headers = {extra.header: extra.value()} if extra is not None else {}
    if https:
        headers["content-md5"] = b64(h.digest())
        return headers, None, h.hexdigest()
    return headers, h.hexdigest(), None


def is_plain_md5_etag(etag: str, headers: Mapping[str, str]) -> bool:
    """True when the ETag is the MD5 of the content: not multipart, not SSE-KMS or SSE-C."""
    if len(etag) != 32 or "-" in etag:
        return False
    if headers.get("x-amz-server-side-encryption") in ("aws:kms", "aws:kms:dsse"):
        return False
    if "x-amz-server-side-encryption-customer-algorithm" in headers:
        return False
    try:
        int(etag, 16)
    except ValueError:
        return False
    return True


def composite_etag(part_digests: list[bytes]) -> str:
    """The ETag S3 gives a multipart object: MD5 of the parts' MD5 digests, then '-N'."""
    return f"{hashlib.md5(b''.join(part_digests)).hexdigest()}-{len(part_digests)}"


def multipart_etag(part_md5_hex: list[str]) -> str:
    """:func:`composite_etag` from the parts' ETags (hex MD5s)."""
    return composite_etag([bytes.fromhex(e) for e in part_md5_hex])


def check_etag(got: str, etag: str, bucket: str, key: str) -> None:
    if got != etag:
        raise ChecksumMismatch(f"downloaded bytes hash to {got}, the object's ETag is {etag}",
                               bucket=bucket, key=key, retryable=True)


class PartLayout(NamedTuple):
    """Part sizes of a multipart object: ``first`` bytes each, doubled every
    ``double_every`` parts (0 = fixed). Stored as object metadata at upload so a later
    download can recompute the multipart ETag on servers that do not expose parts."""

    first: int
    double_every: int = 0

    def size(self, number: int) -> int:
        if not self.double_every:
            return self.first
        return min(MAX_PART, self.first << ((number - 1) // self.double_every))

    def spans(self, total: int) -> list[tuple[int, int]]:
        """[(start, end inclusive)] of each part of a ``total``-byte object."""
        out, pos, n = [], 0, 1
        while pos < total:
            end = min(total, pos + self.size(n))
            out.append((pos, end - 1))
            pos, n = end, n + 1
        return out

    def encode(self) -> str:
        return f"{self.first}/{self.double_every}"

    @classmethod
    def decode(cls, value: str | None) -> PartLayout | None:
        try:
            first, _, every = (value or "").partition("/")
            layout = cls(int(first), int(every or 0))
        except ValueError:
            return None
        return layout if layout.first > 0 and layout.double_every >= 0 else None

    def matches(self, size: int, etag: str) -> bool:
        """Whether this layout gives the part count the multipart ETag ends with (a wrong
        layout would report false mismatches)."""
        return "-" in etag and str(len(self.spans(size))) == etag.rpartition("-")[2]


class Verifier:
    """Checks streamed bytes against the ETag: plain MD5, or the multipart ETag (MD5 of
    the parts' MD5s) when the part layout is known. Inactive when neither applies."""

    def __init__(self, etag: str, headers: Mapping[str, str], layout: PartLayout | None,
                 enabled: bool = True) -> None:
        self.etag = etag
        self.plain = is_plain_md5_etag(etag, headers)
        self.layout = layout if not self.plain else None
        self.active = enabled and (self.plain or self.layout is not None)
        self._md5 = hashlib.md5()
        self._part_md5s: list[bytes] = []
        self._in_part = 0

    def update(self, data: Any) -> None:
        if not self.active:
            return
        if self.layout is None:
            self._md5.update(data)
            return
        mv = memoryview(data)
        while mv:
            ps = self.layout.size(len(self._part_md5s) + 1)
            take = min(len(mv), ps - self._in_part)
            self._md5.update(mv[:take])
            self._in_part += take
            mv = mv[take:]
            if self._in_part == ps:
                self._part_md5s.append(self._md5.digest())
                self._md5 = hashlib.md5()
                self._in_part = 0

    def check(self, bucket: str, key: str) -> None:
        if not self.active:
            return
        if self.layout is None:
            got = self._md5.hexdigest()
        else:
            got = composite_etag(self._part_md5s + ([self._md5.digest()] if self._in_part else []))
        check_etag(got, self.etag, bucket, key)


# -- flexible checksums (x-amz-checksum-*) --------------------------------------------------

ALGORITHMS = ("crc32", "crc32c", "sha1", "sha256")


def choose(checksum: str | bool | None, aws_endpoint: bool) -> str | None:
    """The algorithm to send: ``None`` = the endpoint's default, ``False``/``"none"`` = none."""
    if checksum is None:
        return "crc32" if aws_endpoint else None
    if checksum is False or checksum == "none":
        return None
    if not isinstance(checksum, str) or checksum.lower() not in ALGORITHMS:
        raise InvalidArgument(f"checksum must be one of {', '.join(ALGORITHMS)} or 'none', not {checksum!r}")
    alg = checksum.lower()
    if alg == "crc32c":
        _crc32c()
    return alg


def _crc32c() -> Any:
    try:
        import crc32c  # type: ignore[import-not-found]
    except ImportError:
        raise InvalidArgument("checksum='crc32c' needs the 'crc32c' package (pip install crc32c)") from None
    return crc32c


class Checksum:
    """Incremental checksum; ``header`` is the request header name, ``value()`` its base64 value."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.header = f"x-amz-checksum-{algorithm}"
        self._crc = 0
        self._hash: Any = hashlib.new(algorithm) if algorithm in ("sha1", "sha256") else None
        self._crc32c = _crc32c() if algorithm == "crc32c" else None

    def update(self, data: Any) -> None:
        if self._hash is not None:
            self._hash.update(data)
        elif self._crc32c is not None:
            self._crc = self._crc32c.crc32c(data, self._crc)
        else:
            self._crc = zlib.crc32(data, self._crc)

    def value(self) -> str:
        raw = self._hash.digest() if self._hash is not None else self._crc.to_bytes(4, "big")
        return b64(raw)
