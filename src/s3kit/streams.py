"""``bucket.open(key)``: a seekable, read-only binary stream over an object (sync).

The state and decisions live in ``reader.py`` (shared with the async reader): one
streaming GET at a time, reopened after a seek, pinned to the first ETag, verified on a
sequential read to the end.
"""

from __future__ import annotations

import io

from . import reader
from .runner import run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .bucket import S3Bucket
    from .models import ObjectInfo

__all__ = ["ObjectReader", "open_object"]


class ObjectReader(io.RawIOBase):
    """A raw binary reader over an object; see :mod:`s3kit.reader` for its guarantees."""

    def __init__(self, bucket: S3Bucket, key: str, *, verify: bool = True, version_id: str | None = None) -> None:
        super().__init__()
        self.bucket = bucket
        self.key = key
        self._client = bucket.client
        self._st = reader.ReaderState(bucket.client._engine, bucket.name, key, verify=verify, version_id=version_id)
        self._run(reader.open_at(self._st, 0))  # a missing object raises here, as open() should

    def _run(self, flow: Any) -> Any:
        return run(flow, self._client.transport)

    @property
    def info(self) -> ObjectInfo:
        assert self._st.info is not None
        return self._st.info

    @property
    def size(self) -> int:
        return self._st.size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._st.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return reader.seek_target(self._st, offset, whence)

    def readinto(self, b: Any) -> int:
        if self.closed:
            self._st.closed = True
        n: int = self._run(reader.read_into(self._st, b))
        return n

    def close(self) -> None:
        self._st.close_body()
        self._st.closed = True
        super().close()


def open_object(bucket: S3Bucket, key: str, *, verify: bool = True, version_id: str | None = None,
                buffer_size: int = 256 * 1024) -> io.BufferedReader:
    return io.BufferedReader(ObjectReader(bucket, key, verify=verify, version_id=version_id), buffer_size)
