"""Every S3 operation, written once as a flow (see ``flow.py``).

``S3Client``/``S3Bucket`` and ``AsyncS3Client``/``AsyncS3Bucket`` are thin: each public
method validates nothing itself and runs one of these flows with its driver. So the seed's
semantics (create of an existing bucket raises, delete of a missing key raises, ...) and
every check live here, once.
"""

from __future__ import annotations

import hashlib
import time

from ._log import logger
from .config import validate_bucket_name, validate_key, validate_region
from .crc import new as crc_new
from .engine import S3Request
from .errors import (
    AccessDenied,
    BucketAlreadyExists,
    BucketNotEmpty,
    ChecksumMismatch,
    DeleteError,
    InvalidArgument,
    InvalidRange,
    InvalidType,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    ProtocolError,
    S3Error,
)
from .headers import encode_metadata, object_info, parse_content_range, range_header
from .integrity import (
    CRCS,
    RECORD_META,
    Checksum,
    b64,
    is_plain_md5_etag,
    multipart_etag,
    record_algorithm,
    record_value,
    select,
)
from .models import ObjectInfo, PutResult, parse_iso_date
from .sigv4 import quote_path
from .xmlcodec import (
    ListPage,
    PartInfo,
    UploadInfo,
    build_complete,
    build_create_bucket,
    build_delete,
    parse_complete_multipart,
    parse_copy_result,
    parse_delete_result,
    parse_initiate_multipart,
    parse_list_buckets,
    parse_list_objects_v2,
    parse_list_parts,
    parse_list_uploads,
    parse_location,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime
    from typing import Any

    from .engine import Engine
    from .flow import Flow
    from .models import Progress
    from .transport import HTTPResult

__all__ = [
    "head_bucket", "bucket_exists", "create_bucket", "delete_bucket", "list_buckets", "bucket_region", "presign",
    "put_bytes", "get_object", "head_object", "object_exists", "delete_object", "delete_many", "copy_object",
    "ObjectPages", "list_page", "initiate_upload", "upload_part", "complete_upload", "abort_upload",
    "list_uploads", "list_parts", "object_headers", "quote_etag", "DEFAULT_CONTENT_TYPE", "MAX_PARTS",
]

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_PARTS = 10_000
_MAX_EMPTY_PAGES = 100  # a server that keeps answering "truncated" with nothing in it
_XML_UNSAFE = frozenset(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF))  # not in XML 1.0
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600


# -- buckets -----------------------------------------------------------------------------------


def head_bucket(engine: Engine, name: str) -> Flow[HTTPResult]:
    res: HTTPResult = yield from engine.send(S3Request("HEAD", name))
    return res


def bucket_exists(engine: Engine, name: str) -> Flow[bool]:
    validate_bucket_name(name, strict=False)
    try:
        yield from engine.send(S3Request("HEAD", name))
    except NoSuchBucket:
        return False
    return True


def create_bucket(engine: Engine, name: str, region: str | None) -> Flow[None]:
    """:class:`BucketAlreadyExists` if the name is taken, even by you. Outside us-east-1
    the region is sent as ``LocationConstraint``."""
    validate_bucket_name(name, strict=True)
    region = validate_region(region, "create_bucket(region=...)") if region is not None else engine.region
    # S3 answers 200 to re-creating a bucket you own (us-east-1, Ceph, moto); ask first so
    # that "create" keeps its meaning.
    try:
        yield from engine.send(S3Request("HEAD", name))
    except NoSuchBucket:
        pass
    except AccessDenied as e:
        raise BucketAlreadyExists("the bucket name is taken by another account",
                                  status=e.status, bucket=name, request_id=e.request_id) from None
    else:
        raise BucketAlreadyExists("you already own this bucket", code="BucketAlreadyOwnedByYou",
                                  status=200, bucket=name)
    body = build_create_bucket(region) if region != "us-east-1" else None
    if region != engine.region:
        engine.set_bucket_region(name, region)
    yield from engine.send(S3Request("PUT", name, body=body))


def delete_bucket(engine: Engine, name: str) -> Flow[None]:
    """Delete an empty bucket; no error if it does not exist (BucketNotEmpty if not empty).

    The bucket is checked for objects first: some S3-compatible servers (SeaweedFS) delete a
    non-empty bucket with everything in it instead of answering BucketNotEmpty. One
    listing of one key is cheap insurance on a rare, destructive call.
    """
    validate_bucket_name(name, strict=False)
    try:
        res = yield from engine.send(S3Request("GET", name, query={"list-type": "2", "max-keys": "1"}))
        if parse_list_objects_v2(res.body).objects:
            raise BucketNotEmpty("the bucket still holds objects (checked before deleting it)", status=409,
                                 bucket=name)
        yield from engine.send(S3Request("DELETE", name))
    except NoSuchBucket:
        pass
    engine.forget_bucket(name)


def list_buckets(engine: Engine) -> Flow[list[tuple[str, datetime | None]]]:
    res = yield from engine.send(S3Request("GET"))
    return [(name, parse_iso_date(created) if created else None) for name, created in parse_list_buckets(res.body)]


def bucket_region(engine: Engine, name: str) -> Flow[str]:
    """The region a bucket lives in (HeadBucket's header, else GetBucketLocation); cached."""
    validate_bucket_name(name, strict=False)
    cached = engine.known_region(name)
    if cached:
        return cached
    region: str | None
    try:
        res = yield from engine.send(S3Request("HEAD", name))
        region = res.headers.get("x-amz-bucket-region")
    except S3Error as e:  # a redirect or denial may still name the region; 404 etc. raise
        region = e.region
        if not region and e.status not in (301, 400, 403):
            raise
    if not region:
        res = yield from engine.send(S3Request("GET", name, query={"location": None}))
        region = parse_location(res.body)
    region = validate_region(region, "the server's bucket location", from_server=True)
    if region != engine.region:
        engine.set_bucket_region(name, region)
    return region


def presign(engine: Engine, method: str, bucket: str, key: str | None, *, expires: int,
            query: Mapping[str, str | None] | None = None) -> Flow[str]:
    """A SigV4 query-signed URL, valid ``expires`` seconds (1 s to 7 days)."""
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise InvalidType("expires must be an int number of seconds")
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise InvalidArgument(f"expires must be between 1 s and 7 days, got {expires}")
    if not isinstance(method, str) or method.upper() not in ("GET", "PUT", "HEAD", "DELETE", "POST"):
        raise InvalidArgument(f"cannot presign method {method!r}")
    creds = yield from engine.credentials.current()
    return engine.presign(creds, method.upper(), bucket, key, expires=expires, query=query)


# -- object writes -----------------------------------------------------------------------------


def object_headers(
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
    cache_control: str | None = None,
    content_disposition: str | None = None,
    content_encoding: str | None = None,
    storage_class: str | None = None,
) -> dict[str, str]:
    """Headers describing a new object (PUT, copy with REPLACE and multipart initiate)."""
    h = {"content-type": content_type or DEFAULT_CONTENT_TYPE}
    if metadata:
        h.update(encode_metadata(metadata))
    for name, value in (("cache-control", cache_control), ("content-disposition", content_disposition),
                        ("content-encoding", content_encoding), ("x-amz-storage-class", storage_class)):
        if value is not None:
            if not isinstance(value, str):
                raise InvalidType(f"{name} must be str")
            h[name] = value
    return h


def quote_etag(etag: str) -> str:
    if not isinstance(etag, str):
        raise InvalidType(f"an ETag must be str, not {type(etag).__name__}")
    if etag == "*" or etag.startswith('"') or etag.startswith('W/"'):
        return etag
    return f'"{etag}"'


RECORD_MIN = 256 * 1024  # below this, checking the MD5 ETag on download costs < 0.4 ms


def put_bytes(engine: Engine, bucket: str, key: str, data: Any, headers: Mapping[str, str],
              checksum: str | None, progress: Progress | None) -> Flow[PutResult]:
    """One PutObject of in-memory bytes (``put``, and streams that fit one part).

    A flexible checksum (``checksum``) is stored and verified by servers that support it.
    Larger bodies also get s3kit's recorded CRC (``x-amz-meta-s3kit-checksum``) where no
    stored CRC will exist, so downloads verify at CRC speed instead of MD5's."""
    headers = dict(headers)
    ck = None
    if checksum:
        ck = Checksum(checksum)
        ck.update(data)
        headers[ck.header] = ck.value()
    if len(data) >= RECORD_MIN and not (engine.endpoint.aws and checksum in CRCS):
        alg = record_algorithm()
        if ck is not None and ck.crc is not None and ck.algorithm == alg:
            rec = ck.crc
        else:
            rec = crc_new(alg)
            rec.update(data)
        headers["x-amz-meta-" + RECORD_META] = record_value(rec)
    res = yield from engine.send(S3Request("PUT", bucket, key, headers=headers, body=data))
    if progress:
        progress(len(data), len(data))
    return PutResult(res.headers.get("etag", "").strip('"'), res.headers.get("x-amz-version-id"), key)


# -- object reads ------------------------------------------------------------------------------


def get_object(engine: Engine, bucket: str, key: str, *, range: tuple[int, int | None] | None = None,
               if_match: str | None = None, if_none_match: str | None = None, version_id: str | None = None,
               verify: bool = True) -> Flow[bytes]:
    """The object's bytes (or the inclusive ``range``), verified against its MD5 ETag when it
    is one. The checks run inside the retry loop: a corrupted or mis-ranged answer is fetched
    again."""
    validate_key(key, bucket)
    headers = {}
    start = 0
    end: int | None = None
    if range is not None:
        headers["range"], start, end = range_header(range)
    if if_match is not None:
        headers["if-match"] = quote_etag(if_match)
    if if_none_match is not None:
        headers["if-none-match"] = quote_etag(if_none_match)
    query = {"versionId": version_id} if version_id else None

    if range is not None:
        ranged: list[bytes] = []

        def check_range(res: Any) -> S3Error | None:
            try:
                ranged.append(_check_range(res.body, res.headers, start, end, bucket, key))
            except S3Error as e:
                return e
            return None

        yield from engine.send(S3Request("GET", bucket, key, headers=headers, query=query, check=check_range))
        return ranged[-1]

    def check(res: Any) -> S3Error | None:
        h = res.headers
        c = select(h.get("etag", "").strip('"'), h, {RECORD_META: h.get("x-amz-meta-" + RECORD_META, "")}, None,
                   verify)
        c.update(res.body)
        try:
            c.check(bucket, key)
        except ChecksumMismatch as e:
            e.status = res.status
            return e
        return None

    res = yield from engine.send(S3Request("GET", bucket, key, headers=headers, query=query, check=check))
    body: bytes = res.body
    return body


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
    first, last, total = parse_content_range(cr)
    want_first = start if start >= 0 else max(0, total + start)
    want_last = total - 1 if end is None else min(end, total - 1)
    if first != want_first or last != want_last or len(body) != last - first + 1:
        raise ProtocolError(
            f"asked for bytes {want_first}-{want_last}, got Content-Range {cr!r} with {len(body)} bytes",
            bucket=bucket, key=key,
        )
    return body


def head_object(engine: Engine, bucket: str, key: str, *, version_id: str | None = None) -> Flow[ObjectInfo]:
    """Size, ETag, dates, content type and metadata; :class:`NoSuchKey` if missing."""
    validate_key(key, bucket)
    query = {"versionId": version_id} if version_id else None
    try:
        res = yield from engine.send(S3Request("HEAD", bucket, key, query=query))
    except NoSuchKey:
        # a HEAD 404 has no body: it may mean the bucket, not the key, is missing
        yield from engine.send(S3Request("HEAD", bucket))
        raise
    return object_info(key, res.headers)


def object_exists(engine: Engine, bucket: str, key: str) -> Flow[bool]:
    validate_key(key, bucket)
    try:
        yield from engine.send(S3Request("HEAD", bucket, key))
    except NoSuchKey:
        return False
    return True


# -- deletes -----------------------------------------------------------------------------------


def delete_object(engine: Engine, bucket: str, key: str, *, missing_ok: bool = False) -> Flow[None]:
    """Delete an object; :class:`NoSuchKey` if it does not exist. S3 answers 204 to deleting
    a missing key, so the object is looked up first; ``missing_ok=True`` skips that lookup."""
    validate_key(key, bucket)
    if not missing_ok:
        yield from head_object(engine, bucket, key)
    yield from engine.send(S3Request("DELETE", bucket, key))


def delete_many(engine: Engine, bucket: str, keys: Iterable[str]) -> Flow[None]:
    """Delete any number of keys, 1,000 per request. Missing keys are not errors. If some
    fail, the rest are still deleted and one :class:`DeleteError` lists each failed key."""
    if isinstance(keys, (str, bytes)):
        raise InvalidType("delete_many takes an iterable of keys, not a single string", bucket=bucket)
    failures: list[tuple[str, str, str]] = []
    batch: list[str] = []

    def flush() -> Flow[None]:
        body = build_delete(batch)
        md5 = b64(_md5_digest(body))  # S3 requires Content-MD5 here
        res = yield from engine.send(S3Request("POST", bucket, query={"delete": None}, body=body,
                                               headers={"content-md5": md5, "content-type": "application/xml"}))
        failures.extend(parse_delete_result(res.body))
        batch.clear()

    for k in keys:
        validate_key(k, bucket)
        if not _XML_UNSAFE.isdisjoint(k):
            # XML 1.0 cannot carry most control characters, even as &#n;: delete alone
            try:
                yield from engine.send(S3Request("DELETE", bucket, k))
            except S3Error as e:
                failures.append((k, e.code, e.message))
            continue
        batch.append(k)
        if len(batch) == 1000:
            yield from flush()
    if batch:
        yield from flush()
    if failures:
        shown = "; ".join(f"{k!r}: {c}" for k, c, _ in failures[:20])
        more = f" (and {len(failures) - 20} more)" if len(failures) > 20 else ""
        raise DeleteError(f"{len(failures)} key(s) not deleted: {shown}{more}", failures=failures,
                          status=200, bucket=bucket)


def _md5_digest(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


# -- copy --------------------------------------------------------------------------------------


def copy_object(engine: Engine, bucket: str, src: str, dest: str, *, metadata: Mapping[str, str] | None = None,
                content_type: str | None = None) -> Flow[PutResult]:
    """Server-side copy of ``"srcbucket/srckey"`` into ``dest``. Metadata and content type
    are copied unless given; giving either replaces that one and keeps the other (as
    ``aws s3 cp`` does)."""
    if not isinstance(src, str) or "/" not in src.lstrip("/"):
        raise InvalidArgument(f"copy source must be 'bucket/key', got {src!r}", bucket=bucket)
    src_bucket, _, src_key = src.lstrip("/").partition("/")
    validate_key(src_key, src_bucket)
    validate_key(dest, bucket)
    headers = {"x-amz-copy-source": quote_path(f"{src_bucket}/{src_key}")}
    if metadata is not None or content_type is not None:
        if metadata is None or content_type is None:
            info = yield from head_object(engine, src_bucket, src_key)
            metadata = info.metadata or {} if metadata is None else metadata
            content_type = content_type or info.content_type or DEFAULT_CONTENT_TYPE
        headers["x-amz-metadata-directive"] = "REPLACE"
        headers.update(object_headers(content_type, metadata))
    res = yield from engine.send(S3Request("PUT", bucket, dest, headers=headers, error_in_body=True))
    etag, _ = parse_copy_result(res.body)
    return PutResult(etag, res.headers.get("x-amz-version-id"), dest)


# -- listing -----------------------------------------------------------------------------------


class ObjectPages:
    """The state of a ListObjectsV2 walk: the next query, and the checks against servers
    that loop (a repeated token, endless empty truncated pages). Pure."""

    __slots__ = ("bucket", "query", "done", "_seen", "_empty")

    def __init__(self, bucket: str, prefix: str = "", start_after: str | None = None, page_size: int = 1000,
                 delimiter: str | None = None) -> None:
        if not isinstance(prefix, str):
            raise InvalidType("prefix must be str", bucket=bucket)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 1000:
            raise InvalidArgument("page_size must be between 1 and 1000", bucket=bucket)
        q: dict[str, str | None] = {"list-type": "2", "encoding-type": "url"}
        if page_size != 1000:
            q["max-keys"] = str(page_size)
        if prefix:
            q["prefix"] = prefix
        if start_after:
            q["start-after"] = start_after
        if delimiter:
            q["delimiter"] = delimiter
        self.bucket = bucket
        self.query = q
        self.done = False
        self._seen: set[str] = set()
        self._empty = 0

    def feed(self, page: ListPage) -> None:
        if not page.truncated:
            self.done = True
            return
        token = page.next_token
        if not token:
            raise ProtocolError("listing is truncated but has no continuation token", bucket=self.bucket)
        if token in self._seen:
            raise ProtocolError("listing repeated a continuation token (server loop)", bucket=self.bucket)
        self._seen.add(token)
        self._empty = 0 if (page.objects or page.prefixes) else self._empty + 1
        if self._empty > _MAX_EMPTY_PAGES:
            raise ProtocolError(f"listing returned {self._empty} empty truncated pages in a row", bucket=self.bucket)
        self.query["continuation-token"] = token
        self.query.pop("start-after", None)


def list_page(engine: Engine, pages: ObjectPages) -> Flow[ListPage]:
    """The next page of a listing (check ``pages.done`` first)."""
    res = yield from engine.send(S3Request("GET", pages.bucket, query=dict(pages.query)))
    page = parse_list_objects_v2(res.body)
    pages.feed(page)
    return page


# -- multipart primitives ----------------------------------------------------------------------


def initiate_upload(engine: Engine, bucket: str, key: str, headers: Mapping[str, str],
                    checksum: str | None = None) -> Flow[str]:
    """Start a multipart upload; returns its id. If the request had to be retried, an earlier
    try may have created an upload whose answer was lost: such strays (this key, initiated
    during this call) are aborted so that nothing is left behind."""
    started = time.time() + engine.clock_skew - 2.0  # server clock, with slack
    if checksum:
        # CRCs combine: the object gets one FULL_OBJECT checksum of its bytes; hashes can
        # only be a COMPOSITE (a checksum of the parts' checksums)
        headers = {**headers, "x-amz-checksum-algorithm": checksum.upper(),
                   "x-amz-checksum-type": "FULL_OBJECT" if checksum in CRCS else "COMPOSITE"}
    req = S3Request("POST", bucket, key, query={"uploads": None}, headers=headers)
    res = yield from engine.send(req)
    upload_id = parse_initiate_multipart(res.body)
    if req.tries > 1:
        for u in (yield from list_uploads(engine, bucket, key)):
            if u.key != key or u.upload_id == upload_id or not u.initiated:
                continue
            if parse_iso_date(u.initiated).timestamp() >= started:
                logger().debug("aborting stray upload %s of %r left by a retried initiate", u.upload_id, key)
                yield from abort_upload(engine, bucket, key, u.upload_id, quiet=True)
    return upload_id


def upload_part(engine: Engine, bucket: str, key: str, upload_id: str, number: int, data: Any,
                headers: Mapping[str, str], payload_hash: str | None, md5: str | None) -> Flow[str]:
    """Upload one part (bytes-like or a FileRegion) with its digest headers; returns its ETag,
    checked against the part's MD5 where the server answers one."""
    res = yield from engine.send(S3Request("PUT", bucket, key, query={"partNumber": str(number), "uploadId": upload_id},
                                           headers=headers, body=data, payload_hash=payload_hash, length=len(data)))
    etag = res.headers.get("etag", "").strip('"')
    if md5 and etag and is_plain_md5_etag(etag, res.headers) and etag != md5:
        raise ChecksumMismatch(f"server stored part {number} with ETag {etag}, expected {md5}",
                               bucket=bucket, key=key, retryable=True)
    if not etag:
        raise ProtocolError(f"UploadPart {number} answered without an ETag", bucket=bucket, key=key)
    return str(etag)


def complete_upload(engine: Engine, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]],
                    checksums: dict[int, str] | None = None, checksum: str | None = None,
                    full_object: str | None = None) -> Flow[PutResult]:
    """Complete a multipart upload. ``full_object``: the whole object's CRC (base64), from
    the parts' CRCs combined, sent as the FULL_OBJECT ``checksum`` the server checks."""
    parts = sorted(parts)
    expected = multipart_etag([e for _, e in parts]) if all(is_plain_md5_etag(e, {}) for _, e in parts) else ""
    headers = {"content-type": "application/xml"}
    if checksum and full_object:
        headers[f"x-amz-checksum-{checksum}"] = full_object
        headers["x-amz-checksum-type"] = "FULL_OBJECT"
    req = S3Request("POST", bucket, key, query={"uploadId": upload_id},
                    body=build_complete(parts, checksums, "Checksum" + (checksum or "").upper()),
                    headers=headers, error_in_body=True)
    try:
        res = yield from engine.send(req)
    except NoSuchUpload:
        # A retried Complete whose first answer was lost finds the upload gone: it succeeded
        # if the object now has exactly the ETag these parts make.
        if req.tries > 1 and expected:
            info = yield from head_object(engine, bucket, key)
            if info.etag == expected:
                return PutResult(expected, info.version_id, key)
        raise
    etag = parse_complete_multipart(res.body) or expected  # Ceph RGW Pacific answers <ETag></ETag>
    return PutResult(etag, res.headers.get("x-amz-version-id"), key)


def abort_upload(engine: Engine, bucket: str, key: str, upload_id: str, *, quiet: bool = False) -> Flow[None]:
    """Abort a multipart upload (gone already: fine). ``quiet``: after another failure, log
    instead of raising, so the original error is never masked."""
    try:
        yield from engine.send(S3Request("DELETE", bucket, key, query={"uploadId": upload_id}))
    except NoSuchUpload:
        pass
    except BaseException as e:
        if not quiet:
            raise
        logger().warning("could not abort multipart upload of %r (%s): %s; it must be aborted "
                         "later (ListMultipartUploads)", key, upload_id, e)


def list_uploads(engine: Engine, bucket: str, prefix: str = "") -> Flow[list[UploadInfo]]:
    """Unfinished multipart uploads in the bucket (all pages)."""
    out: list[UploadInfo] = []
    query: dict[str, str | None] = {"uploads": None, "encoding-type": "url"}
    if prefix:
        query["prefix"] = prefix
    for _ in range(100_000):
        res = yield from engine.send(S3Request("GET", bucket, query=dict(query)))
        uploads, truncated, next_key, next_id = parse_list_uploads(res.body)
        out.extend(uploads)
        if not truncated or (next_key is None and next_id is None):
            return out
        query["key-marker"] = next_key or ""
        query["upload-id-marker"] = next_id or ""
    raise ProtocolError("ListMultipartUploads did not end", bucket=bucket)


def list_parts(engine: Engine, bucket: str, key: str, upload_id: str) -> Flow[list[PartInfo]]:
    parts: list[PartInfo] = []
    query: dict[str, str | None] = {"uploadId": upload_id}
    for _ in range(MAX_PARTS + 1):
        res = yield from engine.send(S3Request("GET", bucket, key, query=dict(query)))
        got, truncated, marker = parse_list_parts(res.body)
        parts.extend(got)
        if not truncated or not marker:
            return parts
        query["part-number-marker"] = marker
    raise ProtocolError("ListParts did not end", bucket=bucket, key=key)
