"""Reading an object as a seekable stream: the state and decisions, shared by the sync
``ObjectReader`` (``streams.py``) and the async one (``aio/streams.py``).

One streaming GET is open at a time; a seek closes it and the next read reopens at the new
offset. Every GET after the first is pinned to the first one's ETag (If-Match), so a
concurrent overwrite raises :class:`PreconditionFailed` instead of mixing versions. A
sequential read from 0 to the end is verified against the ETag (MD5, or the multipart ETag
when the part layout is known): the final read raises :class:`ChecksumMismatch` instead of
returning end-of-file. A read that fails mid-body reopens at the current position, as the
client's retry policy allows.
"""

from __future__ import annotations

from .config import validate_key
from .engine import S3Request
from .errors import IncompleteBody, InvalidArgument, S3Error
from .flow import Call, ReadInto, Sleep
from .headers import object_info
from .integrity import Check, NoCheck
from .retry import Attempts
from .transfer import choose_check

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .engine import Engine
    from .flow import Flow
    from .models import ObjectInfo

__all__ = ["ReaderState", "open_at", "read_into", "seek_target"]

_HASH_INLINE = 256 * 1024


class ReaderState:
    """Position, the open body (if any), the object's info and the running verifier."""

    __slots__ = ("engine", "bucket", "key", "verify", "version_id", "pos", "body", "info", "verifier", "closed")

    def __init__(self, engine: Engine, bucket: str, key: str, *, verify: bool = True,
                 version_id: str | None = None) -> None:
        validate_key(key, bucket)
        self.engine = engine
        self.bucket = bucket
        self.key = key
        self.verify = verify
        self.version_id = version_id
        self.pos = 0
        self.body: Any = None
        self.info: ObjectInfo | None = None
        self.verifier: Check | None = None
        self.closed = False

    @property
    def size(self) -> int:
        assert self.info is not None
        return self.info.size

    def close_body(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None


def open_at(st: ReaderState, pos: int) -> Flow[None]:
    """Open a streaming GET at ``pos`` (the first one learns the object's info)."""
    st.close_body()
    if st.info is not None and pos >= st.info.size:
        st.pos = pos
        return
    headers = {}
    if pos:
        headers["range"] = f"bytes={pos}-"
    if st.info is not None:
        headers["if-match"] = f'"{st.info.etag}"'
    query = {"versionId": st.version_id} if st.version_id else None
    body = yield from st.engine.send(S3Request("GET", st.bucket, st.key, headers=headers, query=query, stream=True))
    first = st.info is None
    if first:
        st.info = object_info(st.key, body.headers)
    st.body = body
    st.pos = pos
    if first and st.verify and pos == 0:
        assert st.info is not None
        check = yield from choose_check(st.engine, st.bucket, st.info, body.headers, True)
        st.verifier = None if isinstance(check, NoCheck) else check


def seek_target(st: ReaderState, offset: int, whence: int) -> int:
    """The new position for ``seek``; leaves a different position unverified."""
    if whence == 0:
        new = offset
    elif whence == 1:
        new = st.pos + offset
    elif whence == 2:
        new = st.size + offset
    else:
        raise InvalidArgument(f"invalid whence {whence}")
    if new < 0:
        raise InvalidArgument("negative seek position")
    if new != st.pos:
        st.close_body()
        st.verifier = None  # no longer one sequential pass
        st.pos = new
    return new


def read_into(st: ReaderState, b: Any) -> Flow[int]:
    """Fill ``b`` with the next bytes; 0 at the end of the object."""
    if st.closed:
        raise InvalidArgument("I/O operation on closed object stream")
    if st.info is None:
        yield from open_at(st, st.pos)
    if st.pos >= st.size or len(b) == 0:
        return 0
    if st.body is None:
        yield from open_at(st, st.pos)
        if st.body is None:
            return 0
    view = memoryview(b)
    attempts = Attempts(st.engine.retry, None, f"read of {st.bucket}/{st.key}")
    while True:
        try:
            n: int = yield ReadInto(st.body, view)
            break
        except S3Error as e:
            if e.bucket is None:
                e.bucket, e.key = st.bucket, st.key
            delay = attempts.retry(e)
            yield Sleep(delay)
            verifier = st.verifier
            yield from open_at(st, st.pos)
            st.verifier = verifier  # same sequential pass: keep hashing
            if st.body is None:
                return 0
    if not n:
        if st.pos < st.size:
            raise IncompleteBody(f"stream ended at {st.pos} of {st.size} bytes", bucket=st.bucket, key=st.key)
        return 0
    st.pos += n
    v = st.verifier
    if v is not None:
        if n > _HASH_INLINE:
            yield Call(v.update, view[:n])
        else:
            v.update(view[:n])
        if st.pos == st.size:
            st.verifier = None
            v.check(st.bucket, st.key)
    return n
