"""Request bodies: any bytes-like object becomes a flat byte view whose ``len()`` is its size.

``len(memoryview)`` counts *items*, not bytes: a memoryview of 256 four-byte ints has
``len() == 256`` and ``nbytes == 1024``. Sending ``len()`` as Content-Length stored truncated
objects, and on a keep-alive connection the surplus bytes were read by the server as the
next request. Every body passes through :func:`byte_view` before its length is taken.
"""

from __future__ import annotations

from .errors import InvalidType

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from typing import Any

__all__ = ["byte_view", "is_bytes_like"]


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
