"""S3 object headers <-> Python values: user metadata, ranges, ObjectInfo. Pure."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import datetime, timezone

from .errors import InvalidArgument, InvalidType, ProtocolError
from .models import ObjectInfo

_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9a-z]+$")
_RFC2047_RE = re.compile(r"=\?([A-Za-z0-9_\-]+)\?([BbQq])\?([^?]*)\?=")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_CHECKSUM_HEADERS = ("x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
                     "x-amz-checksum-sha1", "x-amz-checksum-sha256")


def encode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """``x-amz-meta-*`` headers. Names are lower-cased; non-ASCII values are sent as
    RFC 2047 ``=?UTF-8?B?...?=``, the form AWS itself returns for them."""
    if not isinstance(metadata, Mapping):
        raise InvalidType(f"metadata must be a mapping, not {type(metadata).__name__}")
    out = {}
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidType("metadata names and values must be str")
        lname = name.lower()
        if lname.startswith("s3kit-"):
            # s3kit's own (part layout, recorded checksum) describe the bytes it writes; a
            # caller's copy (from another object's head()) would describe other bytes
            continue
        if not _TOKEN_RE.match(lname):
            raise InvalidArgument(f"metadata name {name!r} is not a valid HTTP header token")
        if value.isascii() and value.isprintable() and value == value.strip() and "=?" not in value:
            out["x-amz-meta-" + lname] = value
        else:
            enc = base64.b64encode(value.encode("utf-8")).decode()
            out["x-amz-meta-" + lname] = f"=?UTF-8?B?{enc}?="
    return out


def decode_header_value(value: str) -> str:
    """Decode RFC 2047 encoded-words (as S3 returns non-ASCII metadata)."""
    if "=?" not in value:
        return value

    def one(m: re.Match[str]) -> str:
        charset, enc, text = m.group(1), m.group(2).upper(), m.group(3)
        try:
            if enc == "B":
                raw = base64.b64decode(text + "=" * (-len(text) % 4))
            else:
                import quopri

                raw = quopri.decodestring(text.replace("_", " ").encode("ascii"), header=True)
            return raw.decode(charset)
        except (ValueError, LookupError):
            return m.group(0)

    # adjacent encoded-words separated only by whitespace are joined (RFC 2047 §6.2)
    return _RFC2047_RE.sub(one, re.sub(r"(\?=)\s+(=\?)", r"\1\2", value))


def decode_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    return {n[11:]: decode_header_value(v) for n, v in headers.items() if n.startswith("x-amz-meta-")}


def parse_http_date(s: str | None) -> datetime | None:
    """``Wed, 12 Oct 2009 17:50:00 GMT`` to an aware datetime (a fast path for IMF dates)."""
    if not s:
        return None
    try:
        _, day, mon, year, hms, _tz = s.split()
        hh, mm, ss = hms.split(":")
        return datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=timezone.utc)
    except (ValueError, KeyError):
        from email.utils import parsedate_to_datetime

        try:
            d = parsedate_to_datetime(s)
        except (TypeError, ValueError):
            return None
        return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def object_info(key: str, headers: Mapping[str, str], size: int | None = None) -> ObjectInfo:
    """ObjectInfo from HEAD/GET answer headers."""
    if size is None:
        cr = headers.get("content-range")
        size = parse_content_range(cr)[2] if cr else int(headers.get("content-length", 0))
    checksums = {h[15:]: headers[h] for h in _CHECKSUM_HEADERS if h in headers} or None
    parts = headers.get("x-amz-mp-parts-count")
    return ObjectInfo(
        key,
        size,
        headers.get("etag", "").strip('"'),
        parse_http_date(headers.get("last-modified")),
        headers.get("content-type"),
        decode_metadata(headers),
        headers.get("x-amz-storage-class", "STANDARD"),
        headers.get("x-amz-version-id"),
        checksums,
        int(parts) if parts and parts.isdigit() else None,
    )


def range_header(rng: object) -> tuple[str, int, int | None]:
    """``range=(start, end)`` (inclusive), ``(start, None)`` or ``(-n, None)`` -> header.

    Returns (header value, start, end) with the caller's numbers for later checking.
    """
    if not isinstance(rng, tuple) or len(rng) != 2:
        raise InvalidType("range must be a (start, end) tuple")
    start, end = rng
    if not isinstance(start, int) or isinstance(start, bool) or not (end is None or isinstance(end, int)):
        raise InvalidType("range bounds must be int (end may be None)")
    if start < 0:
        if end is not None:
            raise InvalidArgument("a suffix range is (-n, None)")
        return f"bytes={start}", start, None
    if end is None:
        return f"bytes={start}-", start, None
    if end < start:
        raise InvalidArgument(f"range end {end} is before its start {start}")
    return f"bytes={start}-{end}", start, end


def parse_content_range(value: str) -> tuple[int, int, int]:
    """``bytes 0-9/100`` -> (0, 9, 100)."""
    unit, _, rest = value.strip().partition(" ")
    span, _, total = rest.partition("/")
    first, _, last = span.partition("-")
    if unit == "bytes" and first.isdigit() and last.isdigit() and total.isdigit():
        return int(first), int(last), int(total)
    raise ProtocolError(f"malformed Content-Range {value!r}")
