"""The low-level multipart API: ``bucket.create_multipart_upload(key)`` (sync) and its async twin.

For callers that produce parts themselves (a stream writer, fsspec's buffered files,
boto3-style code): ``upload_part(n, data)`` hashes each part for the server to verify and
checks the ETag it answers; ``complete()`` finishes. Used as a context manager the upload
is aborted on any exit that did not complete it, so no multipart upload is left behind.
"""

from __future__ import annotations

from . import transfer
from .runner import run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .models import PutResult

__all__ = ["MultipartWriter"]


class MultipartWriter:
    """An unfinished multipart upload: ``upload_part``, then ``complete`` (or ``abort``)."""

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

    def upload_part(self, number: int, data: bytes | bytearray | memoryview) -> str:
        """Upload part ``number`` (1 to 10,000; all but the last at least 5 MiB); its ETag."""
        etag: str = run(self._up.upload_part(number, data), self._transport)
        return etag

    def complete(self) -> PutResult:
        """Assemble the parts uploaded so far, in part-number order, into the object."""
        result: PutResult = run(self._up.complete(), self._transport)
        self.done = True
        return result

    def abort(self) -> None:
        """Abort the upload: its stored parts are freed and no object is created."""
        run(self._up.abort(), self._transport)
        self.done = True

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.done:
            run(self._up.abort(quiet=exc[0] is not None), self._transport)
            self.done = True

    def __repr__(self) -> str:
        return f"MultipartWriter(key={self.key!r}, upload_id={self.upload_id!r}, parts={len(self._up.etags)})"
