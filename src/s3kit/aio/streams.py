"""``await bucket.open(key)``: an async, seekable, read-only reader over an object.

The decisions are ``reader.py``'s (shared with the sync ``ObjectReader``): one streaming
GET at a time, reopened after a seek and pinned to the first ETag, verified when read
sequentially to the end. ``seek``/``tell`` do no I/O, so they are plain methods.
"""

from __future__ import annotations

from .. import reader
from .runner import run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator
    from typing import Any

    from ..models import ObjectInfo
    from .bucket import AsyncS3Bucket

__all__ = ["AsyncObjectReader", "OpenObject"]

_CHUNK = 256 * 1024


class AsyncObjectReader:
    """``await read(n)``, ``await readinto(b)``, ``await readline()``, ``seek``/``tell``,
    ``async for line in reader``, ``iter_chunks(size)``; ``async with`` closes it."""

    def __init__(self, bucket: AsyncS3Bucket, key: str, *, verify: bool = True,
                 version_id: str | None = None) -> None:
        self.bucket = bucket
        self.key = key
        self._client = bucket.client
        self._st = reader.ReaderState(bucket.client._engine, bucket.name, key, verify=verify,
                                      version_id=version_id)
        self._buf = b""  # read ahead by readline

    async def _run(self, flow: Any) -> Any:
        return await run(flow, self._client.transport)

    async def _open(self) -> AsyncObjectReader:
        await self._run(reader.open_at(self._st, 0))  # a missing object raises here
        return self

    @property
    def info(self) -> ObjectInfo:
        assert self._st.info is not None
        return self._st.info

    @property
    def size(self) -> int:
        return self._st.size

    @property
    def closed(self) -> bool:
        return self._st.closed

    def tell(self) -> int:
        return self._st.pos - len(self._buf)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset -= len(self._buf)
        self._st.pos -= len(self._buf)
        self._buf = b""
        return reader.seek_target(self._st, offset, whence)

    async def readinto(self, b: Any) -> int:
        if self._buf:
            n = min(len(b), len(self._buf))
            b[:n] = self._buf[:n]
            self._buf = self._buf[n:]
            return n
        n = await self._run(reader.read_into(self._st, b))
        return int(n)

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all the rest if ``n`` < 0); fewer only at the end."""
        out = [self._buf]
        got = len(self._buf)
        self._buf = b""
        while n < 0 or got < n:
            want = _CHUNK if n < 0 else min(_CHUNK, n - got)
            buf = bytearray(want)
            k = await self._run(reader.read_into(self._st, buf))
            if not k:
                break
            out.append(bytes(buf[:k]))
            got += k
        data = b"".join(out)
        if n >= 0 and len(data) > n:
            data, self._buf = data[:n], data[n:]
        return data

    async def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self._buf and (limit < 0 or len(self._buf) < limit):
            buf = bytearray(_CHUNK)
            k = await self._run(reader.read_into(self._st, buf))
            if not k:
                break
            self._buf += bytes(buf[:k])
        end = self._buf.find(b"\n") + 1 or len(self._buf)
        if limit >= 0:
            end = min(end, limit)
        line, self._buf = self._buf[:end], self._buf[end:]
        return line

    def __aiter__(self) -> AsyncObjectReader:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    async def iter_chunks(self, size: int = _CHUNK) -> Any:
        """The rest of the object in chunks of up to ``size`` bytes."""
        while True:
            chunk = await self.read(size)
            if not chunk:
                return
            yield chunk

    async def close(self) -> None:
        self._st.close_body()
        self._st.closed = True

    async def __aenter__(self) -> AsyncObjectReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class OpenObject:
    """What ``bucket.open()`` returns: ``await`` it for the reader, or ``async with`` it."""

    __slots__ = ("_reader",)

    def __init__(self, r: AsyncObjectReader) -> None:
        self._reader = r

    def __await__(self) -> Generator[Any, None, AsyncObjectReader]:
        return self._reader._open().__await__()

    async def __aenter__(self) -> AsyncObjectReader:
        return await self._reader._open()

    async def __aexit__(self, *exc: object) -> None:
        await self._reader.close()
