"""The asyncio front end: ``AsyncS3Client`` and ``AsyncS3Bucket`` run the same flows as the
sync client (``operations.py``, ``transfer.py``) on the asyncio driver (``aio/runner.py``)
and transport (``aio/transport.py``)."""

from .bucket import AsyncS3Bucket
from .client import AsyncS3Client
from .streams import AsyncObjectReader

__all__ = ["AsyncS3Client", "AsyncS3Bucket", "AsyncObjectReader"]
