"""Immutable result records.

They are ``NamedTuple`` s: typed, immutable, and cheap to build by the thousand while
listing (a frozen dataclass costs several times more per instance).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import NamedTuple

__all__ = ["ObjectInfo", "PutResult", "Listing", "Progress", "parse_iso_date"]

#: ``progress(done, total)``: bytes transferred so far and the total when known.
Progress = Callable[[int, int | None], None]


class ObjectInfo(NamedTuple):
    """What S3 knows about one object. ``etag`` has no quotes."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None
    content_type: str | None = None
    metadata: dict[str, str] | None = None
    storage_class: str | None = None
    version_id: str | None = None
    checksums: dict[str, str] | None = None
    parts_count: int | None = None
    #: How a download's bytes were verified ("stored crc64nvme", "recorded crc32c", "md5 etag",
    #: "multipart etag"...); None when they could not be (for instance SSE-C objects without
    #: a stored checksum: never a false mismatch). Only downloads set it.
    verified: str | None = None

    @property
    def is_multipart(self) -> bool:
        """True when the ETag is not a plain MD5 of the content (``<md5>-<parts>``)."""
        return "-" in self.etag


class PutResult(NamedTuple):
    """Outcome of a write: the new ETag (no quotes) and version id where versioned."""

    etag: str
    version_id: str | None = None
    key: str | None = None


class Listing(NamedTuple):
    """One level of a delimited listing."""

    objects: list[ObjectInfo]
    prefixes: list[str]


def parse_iso_date(s: str) -> datetime:
    """``2009-10-12T17:50:30.000Z`` (XML listings) to an aware datetime."""
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.fromisoformat(s)
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)

