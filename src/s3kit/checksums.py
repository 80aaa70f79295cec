"""Flexible checksums (``x-amz-checksum-*``): which algorithm to use, and computing them.

Decided per endpoint: AWS verifies them, so uploads there carry CRC32 by default (4 GB/s
here, nearly free); other S3-compatible stores get none unless asked, since many reject
or mishandle them (botocore 1.36 turning them on by default broke MinIO, Ceph and B2 users).
"""

from __future__ import annotations

import base64
import hashlib
import zlib

from .errors import InvalidArgument

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from typing import Any

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
        return base64.b64encode(raw).decode()
