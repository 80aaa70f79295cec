"""``S3Bucket``: object operations. Thin: validates, builds requests, returns records."""

from __future__ import annotations

from binascii import b2a_base64

from .client import validate_key
from .errors import (
    ChecksumMismatch,
    DeleteError,
    InvalidArgument,
    InvalidRange,
    InvalidType,
    NoSuchKey,
    ProtocolError,
    S3Error,
)
from .payload import byte_view, is_bytes_like

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from datetime import datetime
    from typing import Any, BinaryIO

    from .client import S3Client
    from .models import Listing, ObjectInfo, Progress, PutResult

__all__ = ["S3Bucket"]

_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_BYTES = (bytes, bytearray, memoryview)
_MAX_EMPTY_PAGES = 100  # a server that keeps answering "truncated" with nothing in it
_XML_UNSAFE = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"  # not expressible in XML 1.0


class S3Bucket:
    """A bucket on one client. Cheap to create; holds no connection of its own."""

    __slots__ = ("client", "name", "creation_date")

    def __init__(self, client: "S3Client", name: str) -> None:
        self.client = client
        self.name = name
        self.creation_date: datetime | None = None

    def __repr__(self) -> str:
        return f"S3Bucket({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Bucket) and other.name == self.name and other.client is self.client

    def __hash__(self) -> int:
        return hash((id(self.client), self.name))

    def _req(self, method: str, key: str | None = None, **kw: Any) -> Any:
        return self.client._request(method, self.name, key, **kw)

    # -- write -----------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes | bytearray | memoryview | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        storage_class: str | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
        checksum: str | bool | None = None,
        progress: Progress | None = None,
    ) -> PutResult:
        """Store ``data`` under ``key``. ``data`` is bytes-like or a readable binary stream
        (streamed in bounded memory; multipart when large).

        ``if_none_match="*"`` creates only if absent (else :class:`PreconditionFailed`);
        ``if_match=etag`` overwrites only that version. ``checksum``: a flexible checksum
        (``"crc32"``, ``"crc32c"``, ``"sha1"``, ``"sha256"``) the server verifies; default:
        CRC32 on AWS, none elsewhere (``False`` for none anywhere).
        """
        from .checksums import choose

        alg = choose(checksum, self.client._aws)
        validate_key(key, self.name)
        headers = object_headers(content_type, metadata, cache_control, content_disposition,
                                 content_encoding, storage_class)
        if if_none_match is not None:
            headers["if-none-match"] = if_none_match
        if if_match is not None:
            headers["if-match"] = _quote_etag(if_match)
        if isinstance(data, str):
            raise InvalidType("data must be bytes-like or a binary stream, not str (encode it first)",
                              bucket=self.name, key=key)
        if isinstance(data, _BYTES) or is_bytes_like(data):  # numpy arrays, array.array, mmap...
            return put_bytes(self, key, byte_view(data), headers, alg, progress)
        if not hasattr(data, "read"):
            raise InvalidType(f"data must be bytes-like or a binary stream, not {type(data).__name__}",
                              bucket=self.name, key=key)
        from .transfer import upload_stream

        return upload_stream(self, data, key, headers=headers, progress=progress, checksum=alg)

    # -- read ------------------------------------------------------------------------------

    def get(
        self,
        key: str,
        *,
        range: tuple[int, int | None] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        version_id: str | None = None,
        verify: bool = True,
    ) -> bytes:
        """The object's bytes (or the inclusive ``range``), verified against its MD5 ETag
        when it is one. 304 raises :class:`NotModified`, 412 :class:`PreconditionFailed`."""
        validate_key(key, self.name)
        headers = {}
        if range is not None:
            from .headers import range_header

            headers["range"], start, end = range_header(range)
        if if_match is not None:
            headers["if-match"] = _quote_etag(if_match)
        if if_none_match is not None:
            headers["if-none-match"] = _quote_etag(if_none_match)
        query = {"versionId": version_id} if version_id else None
        name = self.name

        # The checks run inside the retry loop: a corrupted or mis-ranged answer is fetched again.
        if range is not None:
            ranged: list[bytes] = []

            def check_range(res: Any) -> S3Error | None:
                try:
                    ranged.append(_check_range(res.body, res.headers, start, end, name, key))
                except S3Error as e:
                    return e
                return None

            self._req("GET", key, headers=headers, query=query, check=check_range)
            return ranged[-1]

        def check(res: Any) -> S3Error | None:
            from .headers import is_plain_md5_etag

            h = res.headers
            etag = h.get("etag", "").strip('"')
            if verify and is_plain_md5_etag(etag, h) and _md5_hex(res.body) != etag:
                return ChecksumMismatch(f"received {len(res.body)} bytes whose MD5 does not match the ETag {etag}",
                                        bucket=name, key=key, status=res.status, retryable=True)
            return None

        res = self._req("GET", key, headers=headers, query=query, check=check)
        body: bytes = res.body
        return body

    def open(self, key: str, *, verify: bool = True, version_id: str | None = None) -> BinaryIO:
        """A read-only, seekable binary stream over the object: ``read(n)``, iteration,
        ``seek``/``tell`` (ranged GETs on demand), usable as a context manager."""
        from .streams import open_object

        validate_key(key, self.name)
        return open_object(self, key, verify=verify, version_id=version_id)

    def head(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        """Size, ETag, dates, content type and metadata; :class:`NoSuchKey` if missing."""
        validate_key(key, self.name)
        query = {"versionId": version_id} if version_id else None
        try:
            res = self._req("HEAD", key, query=query)
        except NoSuchKey:
            self._raise_if_no_bucket()
            raise
        from .headers import object_info

        return object_info(key, res.headers)

    def exists(self, key: str) -> bool:
        validate_key(key, self.name)
        try:
            self._req("HEAD", key)
        except NoSuchKey:
            return False
        return True

    def _raise_if_no_bucket(self) -> None:
        # A HEAD 404 has no body: it may mean the bucket, not the key, is missing.
        self.client._request("HEAD", self.name)

    # -- delete ----------------------------------------------------------------------------

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        """Delete an object; :class:`NoSuchKey` if it does not exist.

        S3 answers 204 to deleting a missing key, so the object is looked up first;
        ``missing_ok=True`` skips that lookup (one request instead of two).
        """
        validate_key(key, self.name)
        if missing_ok:
            self._req("DELETE", key)
            return
        try:
            self._req("HEAD", key)
        except NoSuchKey:
            self._raise_if_no_bucket()
            raise
        self._req("DELETE", key)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete any number of keys, 1,000 per request. Missing keys are not errors.

        If some fail, the rest are still deleted and one :class:`S3Error` lists each
        failed key with its code.
        """
        import hashlib
        import re

        from .xmlcodec import build_delete, parse_delete_result

        unsafe = re.compile(_XML_UNSAFE)

        if isinstance(keys, (str, bytes)):
            raise InvalidType("delete_many takes an iterable of keys, not a single string", bucket=self.name)
        failures: list[tuple[str, str, str]] = []
        batch: list[str] = []

        def flush() -> None:
            body = build_delete(batch)
            md5 = b2a_base64(hashlib.md5(body).digest(), newline=False).decode()  # S3 requires it here
            res = self._req("POST", query={"delete": None}, body=body,
                            headers={"content-md5": md5, "content-type": "application/xml"})
            failures.extend(parse_delete_result(res.body))
            batch.clear()

        for k in keys:
            validate_key(k, self.name)
            if unsafe.search(k):
                # XML 1.0 cannot carry most control characters, even as &#n;: delete alone
                try:
                    self._req("DELETE", k)
                except S3Error as e:
                    failures.append((k, e.code, e.message))
                continue
            batch.append(k)
            if len(batch) == 1000:
                flush()
        if batch:
            flush()
        if failures:
            shown = "; ".join(f"{k!r}: {c}" for k, c, _ in failures[:20])
            more = f" (and {len(failures) - 20} more)" if len(failures) > 20 else ""
            raise DeleteError(f"{len(failures)} key(s) not deleted: {shown}{more}", failures=failures,
                              status=200, bucket=self.name)

    # -- copy ------------------------------------------------------------------------------

    def copy_to(
        self,
        src: str,
        dest: str,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> PutResult:
        """Server-side copy of ``"srcbucket/srckey"`` into ``dest`` in this bucket.

        Metadata and content type are copied unless given; giving either replaces that one
        and keeps the other (as ``aws s3 cp`` does).
        """
        if not isinstance(src, str) or "/" not in src.lstrip("/"):
            raise InvalidArgument(f"copy source must be 'bucket/key', got {src!r}", bucket=self.name)
        src_bucket, _, src_key = src.lstrip("/").partition("/")
        validate_key(src_key, src_bucket)
        validate_key(dest, self.name)
        from .sigv4 import quote_path

        headers = {"x-amz-copy-source": quote_path(f"{src_bucket}/{src_key}")}
        if metadata is not None or content_type is not None:
            if metadata is None or content_type is None:
                info = self.client.bucket(src_bucket).head(src_key)
                metadata = info.metadata or {} if metadata is None else metadata
                content_type = content_type or info.content_type or _DEFAULT_CONTENT_TYPE
            headers["x-amz-metadata-directive"] = "REPLACE"
            headers.update(object_headers(content_type, metadata))
        res = self._req("PUT", dest, headers=headers, error_in_body=True)
        from .models import PutResult
        from .xmlcodec import parse_copy_result

        etag, _ = parse_copy_result(res.body)
        return PutResult(etag, res.headers.get("x-amz-version-id"), dest)

    # -- list ------------------------------------------------------------------------------

    def iter_objects(
        self,
        prefix: str = "",
        *,
        start_after: str | None = None,
        page_size: int = 1000,
        delimiter: str | None = None,
    ) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in key order, fetched a page at a time as needed."""
        for page in self._pages(prefix, start_after, page_size, delimiter):
            yield from page.objects

    def _pages(self, prefix: str, start_after: str | None, page_size: int,
               delimiter: str | None) -> Iterator[Any]:
        from .xmlcodec import parse_list_objects_v2

        if not isinstance(prefix, str):
            raise InvalidType("prefix must be str", bucket=self.name)
        if not 1 <= page_size <= 1000:
            raise InvalidArgument("page_size must be between 1 and 1000", bucket=self.name)
        query: dict[str, str | None] = {"list-type": "2", "encoding-type": "url"}
        if page_size != 1000:
            query["max-keys"] = str(page_size)
        if prefix:
            query["prefix"] = prefix
        if start_after:
            query["start-after"] = start_after
        if delimiter:
            query["delimiter"] = delimiter
        seen_tokens: set[str] = set()
        empty = 0
        while True:
            page = parse_list_objects_v2(self._req("GET", query=query).body)
            yield page
            if not page.truncated:
                return
            token = page.next_token
            if not token:
                raise ProtocolError("listing is truncated but has no continuation token", bucket=self.name)
            if token in seen_tokens:
                raise ProtocolError("listing repeated a continuation token (server loop)", bucket=self.name)
            seen_tokens.add(token)
            empty = 0 if (page.objects or page.prefixes) else empty + 1
            if empty > _MAX_EMPTY_PAGES:
                raise ProtocolError(f"listing returned {empty} empty truncated pages in a row", bucket=self.name)
            query["continuation-token"] = token
            query.pop("start-after", None)

    def list_objects(self, prefix: str = "") -> list[str]:
        """Every key in the bucket (under ``prefix``), following all pages."""
        return [o.key for o in self.iter_objects(prefix)]

    def list_dir(self, prefix: str = "", delimiter: str = "/") -> Listing:
        """One level under ``prefix``: the objects there and the sub-prefixes ("folders")."""
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        for page in self._pages(prefix, None, 1000, delimiter):
            objects.extend(page.objects)
            prefixes.extend(page.prefixes)
        from .models import Listing

        return Listing(objects, prefixes)

    # -- URLs ------------------------------------------------------------------------------

    def presign(self, key: str, *, method: str = "GET", expires: int = 3600) -> str:
        """A SigV4 query-signed URL for ``key``, valid ``expires`` seconds (1 s to 7 days)."""
        validate_key(key, self.name)
        return self.client.presign_url(method, self.name, key, expires=expires)

    # -- large objects (see transfer.py) -----------------------------------------------------

    def upload_file(self, path: str, key: str, **kw: Any) -> PutResult:
        """Upload a local file, multipart and in parallel when large. See :func:`transfer.upload_file`."""
        from .transfer import upload_file

        return upload_file(self, path, key, **kw)

    def upload_fileobj(self, fileobj: BinaryIO, key: str, **kw: Any) -> PutResult:
        """Upload from a readable binary stream (size may be unknown)."""
        from .transfer import upload_fileobj

        return upload_fileobj(self, fileobj, key, **kw)

    def download_file(self, key: str, path: str, **kw: Any) -> ObjectInfo:
        """Download to ``path`` atomically (temp file + rename), verified."""
        from .transfer import download_file

        return download_file(self, key, path, **kw)

    def download_fileobj(self, key: str, fileobj: BinaryIO, **kw: Any) -> ObjectInfo:
        """Stream the object into a writable binary file object, verified."""
        from .transfer import download_fileobj

        return download_fileobj(self, key, fileobj, **kw)


def put_bytes(bucket: S3Bucket, key: str, data: bytes | bytearray | memoryview, headers: Mapping[str, str],
              checksum: str | None, progress: Progress | None) -> PutResult:
    """One PutObject of in-memory bytes (``put``, and streams that fit in one part)."""
    from .models import PutResult

    if checksum:
        from .checksums import Checksum

        ck = Checksum(checksum)
        ck.update(data)
        headers = {**headers, ck.header: ck.value()}
    res = bucket._req("PUT", key, headers=headers, body=data)
    if progress:
        progress(len(data), len(data))
    return PutResult(res.headers.get("etag", "").strip('"'), res.headers.get("x-amz-version-id"), key)


def object_headers(
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
    cache_control: str | None = None,
    content_disposition: str | None = None,
    content_encoding: str | None = None,
    storage_class: str | None = None,
) -> dict[str, str]:
    """Headers describing a new object (used by PUT, copy and multipart initiate)."""
    h = {"content-type": content_type or _DEFAULT_CONTENT_TYPE}
    if metadata:
        from .headers import encode_metadata

        h.update(encode_metadata(metadata))
    for name, value in (("cache-control", cache_control), ("content-disposition", content_disposition),
                        ("content-encoding", content_encoding), ("x-amz-storage-class", storage_class)):
        if value is not None:
            if not isinstance(value, str):
                raise InvalidType(f"{name} must be str")
            h[name] = value
    return h


def _md5_hex(data: bytes) -> str:
    import hashlib  # OpenSSL's MD5: several times the built-in one's speed on large bodies

    return hashlib.md5(data).hexdigest()


def _quote_etag(etag: str) -> str:
    if etag == "*" or etag.startswith('"') or etag.startswith('W/"'):
        return etag
    return f'"{etag}"'


def _check_range(body: bytes, h: Mapping[str, str], start: int, end: int | None,
                 bucket: str, key: str) -> bytes:
    """Exactly the requested bytes, checked against Content-Range."""
    cr = h.get("content-range")
    if cr is None:
        # 200 with the whole object: the server ignored the range (allowed by HTTP)
        total = len(body)
        first = start if start >= 0 else max(0, total + start)
        if first >= total and total:
            raise InvalidRange(f"range starts at {start}, object is {total} bytes", bucket=bucket, key=key)
        last = total - 1 if end is None else min(end, total - 1)
        return body[first : last + 1]
    from .headers import parse_content_range

    first, last, total = parse_content_range(cr)
    want_first = start if start >= 0 else max(0, total + start)
    want_last = total - 1 if end is None else min(end, total - 1)
    if first != want_first or last != want_last or len(body) != last - first + 1:
        raise ProtocolError(
            f"asked for bytes {want_first}-{want_last}, got Content-Range {cr!r} with {len(body)} bytes",
            bucket=bucket, key=key,
        )
    return body
