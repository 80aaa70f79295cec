"""Request bodies: any bytes-like object becomes a flat byte view whose ``len()`` is its size.

``len(memoryview)`` counts *items*, not bytes: a memoryview of 256 four-byte ints has
``len() == 256`` and ``nbytes == 1024``. Sending ``len()`` as Content-Length stored truncated
objects, and on a keep-alive connection the surplus bytes were read by the server as the
next request. Every body passes through :func:`byte_view` before its length is taken.
"""

from __future__ import annotations

import os

from .errors import InvalidType, LocalFileChanged

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO

__all__ = ["byte_view", "is_bytes_like", "FileRegion", "read_full", "rewind_point"]


def byte_view(data: Any) -> bytes | bytearray | memoryview:
    """``data`` as bytes, bytearray or a contiguous unsigned-byte memoryview, byte-exact
    with ``bytes(data)`` (C order). Zero-copy unless the buffer is not C-contiguous
    (strided views, Fortran-order arrays), which are copied once.

    :class:`InvalidType` for objects without the buffer protocol (``str`` included).
    """
    if type(data) is bytes or type(data) is bytearray:
        return data
    if isinstance(data, str):
        raise InvalidType("data must be bytes-like or a binary stream, not str (encode it first)")
    try:
        view = memoryview(data)
    except TypeError:
        raise InvalidType(f"data must be bytes-like (the buffer protocol) or a binary stream, "
                          f"not {type(data).__name__}") from None
    if view.c_contiguous:
        if view.format == "B" and view.ndim == 1:
            return view
        try:
            return view.cast("B")
        except TypeError:  # zero-sized dimensions cannot be cast
            pass
    return view.tobytes()  # strided or Fortran-ordered: one copy in C order


def is_bytes_like(data: object) -> bool:
    """True for objects with the buffer protocol (bytes, memoryview, array, numpy, mmap...)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return True
    if isinstance(data, str):
        return False
    try:
        memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def rewind_point(body: Any) -> int | None:
    """Where to seek back to before re-sending ``body``; None if it cannot be replayed."""
    if body is None or isinstance(body, (bytes, bytearray, memoryview)) or not hasattr(body, "seek"):
        return None
    seekable = getattr(body, "seekable", None)
    try:
        if seekable is not None and not seekable():
            return None
        return int(body.tell())
    except (OSError, ValueError):
        return None


def read_full(fileobj: BinaryIO, n: int) -> bytes:
    """Exactly ``n`` bytes unless the stream ends first (streams may return short reads)."""
    chunks = []
    while n > 0:
        chunk = fileobj.read(n)
        if not chunk:
            break
        if isinstance(chunk, str):
            raise InvalidType("the stream returned str, not bytes: open it in binary mode")
        if not isinstance(chunk, (bytes, bytearray)):
            chunk = bytes(byte_view(chunk))  # a stream may hand out any bytes-like object
        chunks.append(chunk)
        n -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FileRegion:
    """``length`` bytes of an open file from ``offset``, as a seekable stream: a part is
    sent straight from the file (page cache) instead of being held in memory."""

    CHUNK = 1 << 20

    def __init__(self, fd: int, offset: int, length: int) -> None:
        self.fd, self.offset, self.length, self.pos = fd, offset, length, 0

    def __len__(self) -> int:
        return self.length

    def read(self, n: int = -1) -> bytes:
        left = self.length - self.pos
        n = left if n is None or n < 0 else min(n, left)
        if n <= 0:
            return b""
        data = os.pread(self.fd, n, self.offset + self.pos)
        if len(data) != n:
            raise LocalFileChanged("the local file shrank while being uploaded")
        self.pos += n
        return data

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else (self.pos + pos if whence == 1 else self.length + pos)
        return self.pos

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        for off in range(0, self.length, size):
            n = min(size, self.length - off)
            data = os.pread(self.fd, n, self.offset + off)
            if len(data) != n:
                raise LocalFileChanged("the local file shrank while being uploaded")
            yield data
