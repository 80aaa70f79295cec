"""``await bucket.create_multipart_upload(key)``: the async twin of ``uploads.MultipartWriter``."""

from __future__ import annotations

from .. import transfer
from .runner import run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..models import PutResult

__all__ = ["AsyncMultipartWriter"]


class AsyncMultipartWriter:
    """An unfinished multipart upload: ``await upload_part``, then ``await complete()``
    (or ``abort()``); ``async with`` aborts it on any exit that did not complete it."""

    def __init__(self, upload: transfer.MultipartUpload, transport: Any) -> None:
        self._up = upload
        self._transport = transport
        self.done = False

    @property
    def key(self) -> str:
        return self._up.key

    @property
    def upload_id(self) -> str:
        return self._up.upload_id

    async def upload_part(self, number: int, data: bytes | bytearray | memoryview) -> str:
        """Upload part ``number`` (1 to 10,000; all but the last at least 5 MiB); its ETag."""
        etag: str = await run(self._up.upload_part(number, data), self._transport)
        return etag

    async def complete(self) -> PutResult:
        """Assemble the parts uploaded so far, in part-number order, into the object."""
        result: PutResult = await run(self._up.complete(), self._transport)
        self.done = True
        return result

    async def abort(self) -> None:
        """Abort the upload: its stored parts are freed and no object is created."""
        await run(self._up.abort(), self._transport)
        self.done = True

    async def __aenter__(self) -> AsyncMultipartWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.done:
            await run(self._up.abort(quiet=exc[0] is not None), self._transport)
            self.done = True

    def __repr__(self) -> str:
        return f"AsyncMultipartWriter(key={self.key!r}, upload_id={self.upload_id!r}, parts={len(self._up.etags)})"
