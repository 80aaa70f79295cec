"""Integrity, in one place: every digest s3kit sends or checks.

- uploads: the payload policy (signed SHA-256 over http, Content-MD5 over https, where
  the server verifies either) and flexible ``x-amz-checksum-*`` values;
- downloads: the best check available, in this order: the whole-object CRC s3kit recorded
  at upload (``x-amz-meta-s3kit-checksum``: computed from the bytes it sent; servers such as
  Ceph RGW Pacific store no checksum), a checksum the server stored with the object
  (``x-amz-checksum-*``, FULL_OBJECT: objects other tools wrote), the ETag as MD5, the
  multipart ETag (MD5 of the parts' MD5s) rebuilt from the part layout
  s3kit records (:class:`PartLayout`); else the result says the bytes were not verified
  (SSE-C/SSE-KMS ETags are not MD5s: never a false mismatch);
- :func:`select`: that choice, as a streaming check used by every read path.

Flexible checksums are decided per endpoint: AWS verifies them, so uploads there carry
CRC32 by default (4 GB/s here, nearly free); other S3-compatible stores get none unless
asked, since many reject or mishandle them (botocore 1.36 turning them on by default broke
MinIO, Ceph and B2 users).
"""

from __future__ import annotations

import hashlib
from binascii import b2a_base64
from typing import Any, NamedTuple

from . import crc
from .errors import ChecksumMismatch, InvalidArgument, LocalFileChanged
from .sigv4 import EMPTY_SHA256, UNSIGNED_PAYLOAD, sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "md5_hex", "b64", "payload_digests", "part_digests", "is_plain_md5_etag", "composite_etag",
    "multipart_etag", "check_etag", "PartLayout", "PART_LAYOUT_META", "Verifier", "ALGORITHMS",
    "choose", "Checksum", "SMALL_BODY", "CRCS", "RECORD_META", "RESERVED_META", "record_algorithm",
    "record_value", "parse_record", "file_crc", "Check", "NoCheck", "CrcCheck", "HashCheck", "EtagCheck",
    "stored", "select",
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
                 ) -> tuple[dict[str, str], str | None, str | None, Checksum | None]:
    """(headers, payload hash or None, md5 hex or None, the flexible checksum) for a part
    given as chunks: the one digest the server checks (as :func:`payload_digests`) plus the
    ``x-amz-checksum-*`` header when a flexible checksum is in use, in one pass."""
    h = hashlib.md5() if https else hashlib.sha256()
    extra = Checksum(checksum) if checksum else None
    for chunk in chunks:
        h.update(chunk)
        if extra is not None:
            extra.update(chunk)
    headers = {extra.header: extra.value()} if extra is not None else {}
    if https:
        headers["content-md5"] = b64(h.digest())
        return headers, None, h.hexdigest(), extra
    return headers, h.hexdigest(), None, extra


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


# -- flexible checksums (x-amz-checksum-*) -------------------------------------------------

ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
CRCS = frozenset({"crc32", "crc32c", "crc64nvme"})  # linear: part values combine (FULL_OBJECT)


def choose(checksum: str | bool | None, aws_endpoint: bool) -> str | None:
    """The algorithm to send: ``None`` = the endpoint's default, ``False``/``"none"`` = none.

    AWS verifies and stores checksums: CRC64NVME there when it runs at memory speed here
    (``s3kit[fast]``), else CRC32. Other S3-compatible stores get none unless asked: many
    reject or mishandle them (botocore 1.36 turning them on broke MinIO, Ceph and B2 users).
    """
    if checksum is None:
        return ("crc64nvme" if crc.fast("crc64nvme") else "crc32") if aws_endpoint else None
    if checksum is False or checksum == "none":
        return None
    if not isinstance(checksum, str) or checksum.lower() not in ALGORITHMS:
        raise InvalidArgument(f"checksum must be one of {', '.join(ALGORITHMS)} or 'none', not {checksum!r}")
    alg = checksum.lower()
    if alg in CRCS and not crc.fast(alg):
        raise InvalidArgument(f"checksum={alg!r} needs a fast implementation: pip install 's3kit[fast]' "
                              "(awscrt); pure Python computes it at ~10 MB/s")
    return alg


class Checksum:
    """Incremental checksum; ``header`` is the request header name, ``value()`` its base64
    value. CRCs also keep their int and length for :func:`s3kit.crc.combine`."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.header = f"x-amz-checksum-{algorithm}"
        self.crc: crc.Crc | None = crc.new(algorithm) if algorithm in CRCS else None
        self._hash: Any = hashlib.new(algorithm) if self.crc is None else None

    def update(self, data: Any) -> None:
        if self.crc is not None:
            self.crc.update(data)
        else:
            self._hash.update(data)

    def value(self) -> str:
        return self.crc.b64() if self.crc is not None else b64(self._hash.digest())


# -- what s3kit records at upload, for servers that store no checksum ----------------------

RECORD_META = "s3kit-checksum"  # x-amz-meta-s3kit-checksum: "<crc32|crc32c>:<base64>"
RESERVED_META = "s3kit-"  # metadata names s3kit owns: never taken from the caller


def record_algorithm() -> str:
    """CRC32C when it runs at memory speed here (awscrt: 30 GB/s), else zlib's CRC32 (4 GB/s)."""
    return "crc32c" if crc.fast("crc32c") else "crc32"


def record_value(c: crc.Crc) -> str:
    return f"{c.algorithm}:{c.b64()}"


def parse_record(value: str | None) -> tuple[str, int] | None:
    alg, sep, b64v = (value or "").partition(":")
    if not sep or alg not in ("crc32", "crc32c", "crc64nvme"):
        return None
    v = crc.value_of(alg, b64v)
    return None if v is None else (alg, v)


def file_crc(fd: int, size: int, alg: str, chunk: int = 8 << 20, threads: int = 4) -> crc.Crc:
    """The CRC of a file's first ``size`` bytes, its chunks in parallel threads (the C CRCs
    release the GIL) and combined: ~0.03 s per GiB of CPU with awscrt's CRC32C."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    def one(off: int) -> tuple[int, int]:
        n = min(chunk, size - off)
        c = crc.new(alg)
        for sub in range(off, off + n, 1 << 20):  # 1 MiB reads: memory stays at a MiB per thread
            want = min(1 << 20, off + n - sub)
            data = os.pread(fd, want, sub)
            if len(data) != want:
                raise LocalFileChanged("the local file shrank while being read")
            c.update(data)
        return c.value, n

    total = crc.new(alg)
    offsets = range(0, size, chunk)
    if len(offsets) <= 1:
        parts = [one(o) for o in offsets]
    else:
        with ThreadPoolExecutor(min(threads, len(offsets))) as ex:
            parts = list(ex.map(one, offsets))
    for value, n in parts:
        total.extend(crc.Crc(alg, value, n))
    return total


# -- choosing the check for a read ---------------------------------------------------------

class Check:
    """A streaming check of an object's bytes: ``update`` in order, then ``check``.
    ``method`` says what was verified (``None``: nothing could be)."""

    method: str | None = None
    reason = ""

    def update(self, data: Any) -> None:
        pass

    def check(self, bucket: str, key: str) -> None:
        pass


class NoCheck(Check):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class CrcCheck(Check):
    """Against a whole-object CRC (stored by the server, or recorded by s3kit). Ranges may
    be hashed apart and joined with :meth:`join` (parallel downloads)."""

    def __init__(self, alg: str, expected: int, method: str) -> None:
        self.alg = alg
        self.expected = expected
        self.method = method
        self.crc = crc.new(alg)

    def update(self, data: Any) -> None:
        self.crc.update(data)

    def join(self, parts: list[crc.Crc]) -> None:
        for p in parts:
            self.crc.extend(p)

    def check(self, bucket: str, key: str) -> None:
        if self.crc.value != self.expected:
            width = crc.WIDTH[self.alg] // 4
            raise ChecksumMismatch(f"downloaded bytes have {self.alg} {self.crc.value:0{width}x}, the object's "
                                   f"{self.method} is {self.expected:0{width}x}", bucket=bucket, key=key,
                                   retryable=True)


class HashCheck(Check):
    """Against a whole-object SHA-1/SHA-256 the server stored (single-part uploads)."""

    def __init__(self, alg: str, expected: bytes) -> None:
        self.method = f"stored {alg}"
        self.expected = expected
        self.h = hashlib.new(alg)

    def update(self, data: Any) -> None:
        self.h.update(data)

    def check(self, bucket: str, key: str) -> None:
        if self.h.digest() != self.expected:
            raise ChecksumMismatch(f"downloaded bytes do not match the object's {self.method}", bucket=bucket,
                                   key=key, retryable=True)


class EtagCheck(Check):
    """Against the ETag: the MD5 of the bytes, or (multipart, layout known) the MD5 of the
    parts' MD5s."""

    def __init__(self, etag: str, layout: PartLayout | None) -> None:
        self.v = Verifier(etag, {}, layout)
        self.method = "md5 etag" if layout is None else "multipart etag"

    def update(self, data: Any) -> None:
        self.v.update(data)

    def check(self, bucket: str, key: str) -> None:
        self.v.check(bucket, key)


def stored(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(algorithm, base64 value) of a FULL_OBJECT checksum the answer carries, if any.
    COMPOSITE values (``...-N``: a checksum of the parts' checksums) cannot be checked
    against the bytes and are skipped, as botocore does."""
    if headers.get("x-amz-checksum-type", "FULL_OBJECT").upper() != "FULL_OBJECT":
        return None
    for alg in ("crc64nvme", "crc32c", "crc32", "sha256", "sha1"):
        v = headers.get(f"x-amz-checksum-{alg}")
        if v and "-" not in v:
            return alg, v
    return None


def select(etag: str, headers: Mapping[str, str], metadata: Mapping[str, str] | None, layout: PartLayout | None,
           enabled: bool = True) -> Check:
    """The best check for a whole object's bytes (see the module docstring for the order)."""
    from binascii import Error, a2b_base64

    if not enabled:
        return NoCheck("verification turned off (verify=False)")
    # s3kit's own record first: computed from the bytes it sent, it cannot be a server's
    # mistake (moto returns the CRC32 of a multipart object as its CRC32C)
    rec = parse_record((metadata or {}).get(RECORD_META))
    if rec is not None and (crc.fast(rec[0]) or rec[0] == "crc32"):
        return CrcCheck(rec[0], rec[1], f"recorded {rec[0]}")
    found = stored(headers)
    if found is not None:
        alg, value = found
        if alg in CRCS and (crc.fast(alg) or alg == "crc32"):
            v = crc.value_of(alg, value)
            if v is not None:
                return CrcCheck(alg, v, f"stored {alg}")
        elif alg in ("sha1", "sha256"):
            try:
                return HashCheck(alg, a2b_base64(value))
            except (Error, ValueError):
                pass
    if is_plain_md5_etag(etag, headers):
        return EtagCheck(etag, None)
    if layout is not None and "-" in etag:
        return EtagCheck(etag, layout)
    if "x-amz-server-side-encryption-customer-algorithm" in headers or headers.get(
            "x-amz-server-side-encryption") in ("aws:kms", "aws:kms:dsse"):
        return NoCheck("encrypted with SSE-C or SSE-KMS: the ETag is not an MD5 and no checksum is stored")
    return NoCheck("no stored checksum, and the ETag is not a plain or rebuildable MD5")
