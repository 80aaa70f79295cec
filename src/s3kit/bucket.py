"""``S3Bucket``: object operations. Thin: each method runs one flow from ``operations.py``
or ``transfer.py`` with the sync driver. ``AsyncS3Bucket`` mirrors it with ``await``."""

from __future__ import annotations

from . import operations as ops
from . import transfer
from .config import validate_key
from .errors import InvalidType
from .integrity import choose
from .models import Listing
from .payload import byte_view, is_bytes_like
from .streams import open_object
from .uploads import MultipartWriter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from datetime import datetime
    from typing import Any, BinaryIO, TypeVar

    from .client import S3Client
    from .flow import Flow
    from .models import ObjectInfo, Progress, PutResult
    from .xmlcodec import PartInfo, UploadInfo

    T = TypeVar("T")

__all__ = ["S3Bucket", "put_flow"]

_BYTES = (bytes, bytearray, memoryview)


def put_flow(engine: Any, bucket: str, key: str, data: Any, *, content_type: str | None,
             metadata: Mapping[str, str] | None, cache_control: str | None, content_disposition: str | None,
             content_encoding: str | None, storage_class: str | None, if_none_match: str | None,
             if_match: str | None, checksum: str | bool | None, progress: Progress | None) -> Flow[PutResult]:
    """``put``: bytes-like data in one PutObject, a stream multipart when large."""
    alg = choose(checksum, engine.endpoint.aws)
    validate_key(key, bucket)
    headers = ops.object_headers(content_type, metadata, cache_control, content_disposition, content_encoding,
                                 storage_class)
    if if_none_match is not None:
        headers["if-none-match"] = if_none_match
    if if_match is not None:
        headers["if-match"] = ops.quote_etag(if_match)
    if isinstance(data, str):
        raise InvalidType("data must be bytes-like or a binary stream, not str (encode it first)",
                          bucket=bucket, key=key)
    if isinstance(data, _BYTES) or is_bytes_like(data):  # numpy arrays, array.array, mmap...
        result: PutResult = yield from ops.put_bytes(engine, bucket, key, byte_view(data), headers, alg, progress)
        return result
    if not hasattr(data, "read"):
        raise InvalidType(f"data must be bytes-like or a binary stream, not {type(data).__name__}",
                          bucket=bucket, key=key)
    result = yield from transfer.upload_stream(engine, bucket, data, key, headers=headers, progress=progress,
                                               checksum=alg)
    return result


class S3Bucket:
    """A bucket on one client. Cheap to create; holds no connection of its own."""

    __slots__ = ("client", "name", "creation_date")

    def __init__(self, client: S3Client, name: str) -> None:
        self.client = client
        self.name = name
        self.creation_date: datetime | None = None

    def __repr__(self) -> str:
        return f"S3Bucket({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Bucket) and other.name == self.name and other.client is self.client

    def __hash__(self) -> int:
        return hash((id(self.client), self.name))

    def __reduce__(self) -> tuple[object, tuple[S3Client, str]]:
        return S3Bucket, (self.client, self.name)

    def _run(self, flow: Flow[T]) -> T:
        return self.client._run(flow)

    @property
    def _engine(self) -> Any:
        return self.client._engine

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
        """Store ``data`` under ``key``. ``data`` is bytes-like (anything with the buffer
        protocol: bytes, memoryview, numpy arrays...) or a readable binary stream (streamed in
        bounded memory; multipart when large).

        ``if_none_match="*"`` creates only if absent (else :class:`PreconditionFailed`);
        ``if_match=etag`` overwrites only that version. ``checksum``: a flexible checksum
        (``"crc32"``, ``"crc32c"``, ``"sha1"``, ``"sha256"``) the server verifies; default:
        CRC32 on AWS, none elsewhere (``False`` for none anywhere).
        """
        return self._run(put_flow(self._engine, self.name, key, data, content_type=content_type, metadata=metadata,
                                  cache_control=cache_control, content_disposition=content_disposition,
                                  content_encoding=content_encoding, storage_class=storage_class,
                                  if_none_match=if_none_match, if_match=if_match, checksum=checksum,
                                  progress=progress))

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
        return self._run(ops.get_object(self._engine, self.name, key, range=range, if_match=if_match,
                                        if_none_match=if_none_match, version_id=version_id, verify=verify))

    def open(self, key: str, *, verify: bool = True, version_id: str | None = None) -> BinaryIO:
        """A read-only, seekable binary stream over the object: ``read(n)``, iteration,
        ``seek``/``tell`` (ranged GETs on demand), usable as a context manager."""
        return open_object(self, key, verify=verify, version_id=version_id)

    def head(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        """Size, ETag, dates, content type and metadata; :class:`NoSuchKey` if missing."""
        return self._run(ops.head_object(self._engine, self.name, key, version_id=version_id))

    def exists(self, key: str) -> bool:
        return self._run(ops.object_exists(self._engine, self.name, key))

    # -- delete ----------------------------------------------------------------------------

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        """Delete an object; :class:`NoSuchKey` if it does not exist.

        S3 answers 204 to deleting a missing key, so the object is looked up first;
        ``missing_ok=True`` skips that lookup (one request instead of two).
        """
        self._run(ops.delete_object(self._engine, self.name, key, missing_ok=missing_ok))

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete any number of keys, 1,000 per request. Missing keys are not errors.

        If some fail, the rest are still deleted and one :class:`DeleteError` lists each
        failed key with its code (``.failures``).
        """
        self._run(ops.delete_many(self._engine, self.name, keys))

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
        return self._run(ops.copy_object(self._engine, self.name, src, dest, metadata=metadata,
                                         content_type=content_type))

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
        pages = ops.ObjectPages(self.name, prefix, start_after, page_size, delimiter)
        while not pages.done:
            yield from self._run(ops.list_page(self._engine, pages)).objects

    def list_objects(self, prefix: str = "") -> list[str]:
        """Every key in the bucket (under ``prefix``), following all pages."""
        return [o.key for o in self.iter_objects(prefix)]

    def list_dir(self, prefix: str = "", delimiter: str = "/") -> Listing:
        """One level under ``prefix``: the objects there and the sub-prefixes ("folders")."""
        pages = ops.ObjectPages(self.name, prefix, None, 1000, delimiter)
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        while not pages.done:
            page = self._run(ops.list_page(self._engine, pages))
            objects.extend(page.objects)
            prefixes.extend(page.prefixes)
        return Listing(objects, prefixes)

    # -- URLs ------------------------------------------------------------------------------

    def presign(self, key: str, *, method: str = "GET", expires: int = 3600) -> str:
        """A SigV4 query-signed URL for ``key``, valid ``expires`` seconds (1 s to 7 days)."""
        validate_key(key, self.name)
        return self._run(ops.presign(self._engine, method, self.name, key, expires=expires))

    # -- multipart housekeeping ------------------------------------------------------------

    def list_uploads(self, prefix: str = "") -> list[UploadInfo]:
        """Unfinished multipart uploads (``key``, ``upload_id``, ``initiated``)."""
        return self._run(ops.list_uploads(self._engine, self.name, prefix))

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """The parts stored so far for an unfinished upload (``number``, ``etag``, ``size``)."""
        validate_key(key, self.name)
        return self._run(ops.list_parts(self._engine, self.name, key, upload_id))

    def create_multipart_upload(
        self,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        storage_class: str | None = None,
        checksum: str | bool | None = None,
    ) -> MultipartWriter:
        """Start a multipart upload to fill part by part (``upload_part``, ``complete``);
        as a context manager it is aborted on any exit that did not complete it."""
        up = self._run(transfer.start_upload(
            self._engine, self.name, key, content_type=content_type, metadata=metadata, cache_control=cache_control,
            content_disposition=content_disposition, content_encoding=content_encoding,
            storage_class=storage_class, checksum=checksum))
        return MultipartWriter(up, self.client.transport)

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort an unfinished multipart upload (its stored parts are freed)."""
        validate_key(key, self.name)
        self._run(ops.abort_upload(self._engine, self.name, key, upload_id))

    # -- large objects (see transfer.py) -----------------------------------------------------

    def upload_file(
        self,
        path: str,
        key: str,
        *,
        part_size: int | None = None,
        concurrency: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        checksum: str | bool | None = None,
        resume: bool = False,
        progress: Progress | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        storage_class: str | None = None,
    ) -> PutResult:
        """Upload a local file, multipart and in parallel when large; ``resume=True``
        continues an interrupted upload of the same file."""
        return self._run(transfer.upload_file(
            self._engine, self.name, path, key, part_size=part_size, concurrency=concurrency,
            content_type=content_type, metadata=metadata, checksum=checksum, resume=resume, progress=progress,
            cache_control=cache_control, content_disposition=content_disposition,
            content_encoding=content_encoding, storage_class=storage_class))

    def upload_fileobj(
        self,
        fileobj: BinaryIO,
        key: str,
        *,
        part_size: int | None = None,
        concurrency: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        checksum: str | bool | None = None,
        progress: Progress | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        storage_class: str | None = None,
    ) -> PutResult:
        """Upload from a readable binary stream (size may be unknown)."""
        return self._run(transfer.upload_fileobj(
            self._engine, self.name, fileobj, key, part_size=part_size, concurrency=concurrency,
            content_type=content_type, metadata=metadata, checksum=checksum, progress=progress,
            cache_control=cache_control, content_disposition=content_disposition,
            content_encoding=content_encoding, storage_class=storage_class))

    def download_file(self, key: str, path: str, *, concurrency: int | None = None, progress: Progress | None = None,
                      verify: bool = True, fsync: bool = False) -> ObjectInfo:
        """Download to ``path`` atomically (temp file + rename), verified."""
        return self._run(transfer.download_file(self._engine, self.name, key, path, concurrency=concurrency,
                                                progress=progress, verify=verify, fsync=fsync))

    def download_fileobj(self, key: str, fileobj: BinaryIO, *, progress: Progress | None = None,
                         verify: bool = True) -> ObjectInfo:
        """Stream the object into a writable binary file object, verified."""
        return self._run(transfer.download_fileobj(self._engine, self.name, key, fileobj, progress=progress,
                                                   verify=verify))
