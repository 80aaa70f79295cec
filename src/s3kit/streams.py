"""``bucket.open(key)``: a seekable, read-only binary stream over an object."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from .errors import IncompleteBody, InvalidArgument, S3Error
from .headers import object_info

if TYPE_CHECKING:
    from .bucket import S3Bucket
    from .models import ObjectInfo
    from .transport import StreamingBody

__all__ = ["ObjectReader", "open_object"]


class ObjectReader(io.RawIOBase):
    """Reads an object through one streaming GET, reopened at the new offset after a
    seek. Every GET after the first is pinned to the first one's ETag (If-Match), so a
    concurrent overwrite raises :class:`PreconditionFailed` instead of mixing versions.
    A sequential read from 0 to the end is verified against the ETag (MD5, or the multipart
    ETag when the part layout is known): the final read raises :class:`ChecksumMismatch`
    instead of returning end-of-file.
    """

    def __init__(self, bucket: "S3Bucket", key: str, *, verify: bool = True,
                 version_id: str | None = None) -> None:
        super().__init__()
        self.bucket = bucket
        self.key = key
        self._verify = verify
        self._version_id = version_id
        self._pos = 0
        self._body: StreamingBody | None = None
        self._info: ObjectInfo | None = None
        self._verifier: Any = None
        self._open_at(0)

    @property
    def info(self) -> "ObjectInfo":
        assert self._info is not None
        return self._info

    @property
    def size(self) -> int:
        return self.info.size

    def _open_at(self, pos: int) -> None:
        from .transfer import _part_layout, _Verifier

        self._close_body()
        headers = {}
        if pos:
            headers["range"] = f"bytes={pos}-"
        if self._info is not None:
            headers["if-match"] = f'"{self._info.etag}"'
        query = {"versionId": self._version_id} if self._version_id else None
        if self._info is not None and pos >= self._info.size:
            self._body = None
            self._pos = pos
            return
        body = self.bucket._req("GET", self.key, headers=headers, query=query, stream=True)
        if self._info is None:
            self._info = object_info(self.key, body.headers)
        self._body = body
        self._pos = pos
        self._verifier = None
        if self._verify and pos == 0:
            layout = _part_layout(self.bucket, self._info) if "-" in self._info.etag else None
            self._verifier = _Verifier(self._info.etag, body.headers, layout)
        if self._verifier is not None and not self._verifier.active:
            self._verifier = None

    def _close_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            new = offset
        elif whence == io.SEEK_CUR:
            new = self._pos + offset
        elif whence == io.SEEK_END:
            new = self.size + offset
        else:
            raise InvalidArgument(f"invalid whence {whence}")
        if new < 0:
            raise InvalidArgument("negative seek position")
        if new != self._pos:
            self._close_body()
            self._verifier = None  # no longer one sequential pass
            self._pos = new
        return new

    def readinto(self, b: Any) -> int:
        if self.closed:
            raise InvalidArgument("I/O operation on closed object stream")
        if self._pos >= self.size or len(b) == 0:
            return 0
        if self._body is None:
            self._open_at(self._pos)
            if self._body is None:
                return 0
        data = self._read_retrying(len(b))
        if not data:
            if self._pos < self.size:
                raise IncompleteBody(f"stream ended at {self._pos} of {self.size} bytes",
                                     bucket=self.bucket.name, key=self.key)
            return 0
        n = len(data)
        b[:n] = data
        self._pos += n
        if self._verifier is not None:
            self._verifier.update(data)
            if self._pos == self.size:
                v, self._verifier = self._verifier, None
                v.check(self.bucket.name, self.key)
        return n

    def _read_retrying(self, n: int) -> bytes:
        """Read from the open body; after a retryable failure reopen at the current
        position (If-Match pins the version) as the client's retry policy allows."""
        import time

        retry = self.bucket.client.retry
        attempt = 1
        while True:
            try:
                assert self._body is not None
                return self._body.read(n)
            except S3Error as e:
                if not retry.should_retry(e, attempt):
                    raise
                time.sleep(retry.delay(attempt))
                attempt += 1
                verifier = self._verifier
                self._open_at(self._pos)
                self._verifier = verifier  # same sequential pass: keep hashing
                if self._body is None:
                    return b""

    def close(self) -> None:
        self._close_body()
        super().close()


def open_object(bucket: "S3Bucket", key: str, *, verify: bool = True, version_id: str | None = None,
                buffer_size: int = 256 * 1024) -> io.BufferedReader:
    return io.BufferedReader(ObjectReader(bucket, key, verify=verify, version_id=version_id), buffer_size)
