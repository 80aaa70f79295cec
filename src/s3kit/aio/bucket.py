"""``AsyncS3Bucket``: ``S3Bucket`` for asyncio, method for method (same flows)."""

from __future__ import annotations

from .. import operations as ops
from .. import transfer
from ..bucket import put_flow
from ..config import validate_key
from ..models import Listing
from .streams import AsyncObjectReader, OpenObject
from .uploads import AsyncMultipartWriter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Mapping
    from datetime import datetime
    from typing import Any, BinaryIO, TypeVar

    from ..flow import Flow
    from ..models import ObjectInfo, Progress, PutResult
    from ..xmlcodec import PartInfo, UploadInfo
    from .client import AsyncS3Client

    T = TypeVar("T")

__all__ = ["AsyncS3Bucket", "AsyncObjectReader"]


class AsyncS3Bucket:
    """A bucket on one async client. Cheap to create; holds no connection of its own."""

    __slots__ = ("client", "name", "creation_date")

    def __init__(self, client: AsyncS3Client, name: str) -> None:
        self.client = client
        self.name = name
        self.creation_date: datetime | None = None

    def __repr__(self) -> str:
        return f"AsyncS3Bucket({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncS3Bucket) and other.name == self.name and other.client is self.client

    def __hash__(self) -> int:
        return hash((id(self.client), self.name))

    def __reduce__(self) -> tuple[object, tuple[AsyncS3Client, str]]:
        return AsyncS3Bucket, (self.client, self.name)

    async def _run(self, flow: Flow[T]) -> T:
        return await self.client._run(flow)

    @property
    def _engine(self) -> Any:
        return self.client._engine

    # -- write -----------------------------------------------------------------------------

    async def put(
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
        """Store ``data`` under ``key`` (see :meth:`S3Bucket.put`); a stream is read in a
        thread, never on the event loop."""
        return await self._run(put_flow(self._engine, self.name, key, data, content_type=content_type,
                                        metadata=metadata, cache_control=cache_control,
                                        content_disposition=content_disposition, content_encoding=content_encoding,
                                        storage_class=storage_class, if_none_match=if_none_match, if_match=if_match,
                                        checksum=checksum, progress=progress))

    # -- read ------------------------------------------------------------------------------

    async def get(
        self,
        key: str,
        *,
        range: tuple[int, int | None] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        version_id: str | None = None,
        verify: bool = True,
    ) -> bytes:
        """The object's bytes (or the inclusive ``range``), verified (see :meth:`S3Bucket.get`)."""
        return await self._run(ops.get_object(self._engine, self.name, key, range=range, if_match=if_match,
                                              if_none_match=if_none_match, version_id=version_id, verify=verify))

    def open(self, key: str, *, verify: bool = True, version_id: str | None = None) -> OpenObject:
        """An async, seekable reader over the object: ``async with b.open(k) as f`` or
        ``f = await b.open(k)``; then ``await f.read(n)``, ``f.seek(pos)``, ``async for line in f``."""
        return OpenObject(AsyncObjectReader(self, key, verify=verify, version_id=version_id))

    async def head(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        """Size, ETag, dates, content type and metadata; :class:`NoSuchKey` if missing."""
        return await self._run(ops.head_object(self._engine, self.name, key, version_id=version_id))

    async def exists(self, key: str) -> bool:
        return await self._run(ops.object_exists(self._engine, self.name, key))

    # -- delete ----------------------------------------------------------------------------

    async def delete(self, key: str, *, missing_ok: bool = False) -> None:
        """Delete an object; :class:`NoSuchKey` if it does not exist (``missing_ok``: one request)."""
        await self._run(ops.delete_object(self._engine, self.name, key, missing_ok=missing_ok))

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete any number of keys, 1,000 per request; :class:`DeleteError` lists failures."""
        await self._run(ops.delete_many(self._engine, self.name, keys))

    # -- copy ------------------------------------------------------------------------------

    async def copy_to(
        self,
        src: str,
        dest: str,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> PutResult:
        """Server-side copy of ``"srcbucket/srckey"`` into ``dest`` in this bucket."""
        return await self._run(ops.copy_object(self._engine, self.name, src, dest, metadata=metadata,
                                               content_type=content_type))

    # -- list ------------------------------------------------------------------------------

    async def iter_objects(
        self,
        prefix: str = "",
        *,
        start_after: str | None = None,
        page_size: int = 1000,
        delimiter: str | None = None,
    ) -> AsyncIterator[ObjectInfo]:
        """Every object under ``prefix``, in key order, fetched a page at a time as needed."""
        pages = ops.ObjectPages(self.name, prefix, start_after, page_size, delimiter)
        while not pages.done:
            for o in (await self._run(ops.list_page(self._engine, pages))).objects:
                yield o

    async def list_objects(self, prefix: str = "") -> list[str]:
        """Every key in the bucket (under ``prefix``), following all pages."""
        return [o.key async for o in self.iter_objects(prefix)]

    async def list_dir(self, prefix: str = "", delimiter: str = "/") -> Listing:
        """One level under ``prefix``: the objects there and the sub-prefixes ("folders")."""
        pages = ops.ObjectPages(self.name, prefix, None, 1000, delimiter)
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        while not pages.done:
            page = await self._run(ops.list_page(self._engine, pages))
            objects.extend(page.objects)
            prefixes.extend(page.prefixes)
        return Listing(objects, prefixes)

    # -- URLs ------------------------------------------------------------------------------

    async def presign(self, key: str, *, method: str = "GET", expires: int = 3600) -> str:
        """A SigV4 query-signed URL for ``key``, valid ``expires`` seconds (1 s to 7 days)."""
        validate_key(key, self.name)
        return await self._run(ops.presign(self._engine, method, self.name, key, expires=expires))

    # -- multipart housekeeping ------------------------------------------------------------

    async def list_uploads(self, prefix: str = "") -> list[UploadInfo]:
        """Unfinished multipart uploads (``key``, ``upload_id``, ``initiated``)."""
        return await self._run(ops.list_uploads(self._engine, self.name, prefix))

    async def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """The parts stored so far for an unfinished upload."""
        validate_key(key, self.name)
        return await self._run(ops.list_parts(self._engine, self.name, key, upload_id))

    async def create_multipart_upload(
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
    ) -> AsyncMultipartWriter:
        """Start a multipart upload to fill part by part (``upload_part``, ``complete``);
        as a context manager it is aborted on any exit that did not complete it."""
        up = await self._run(transfer.start_upload(
            self._engine, self.name, key, content_type=content_type, metadata=metadata, cache_control=cache_control,
            content_disposition=content_disposition, content_encoding=content_encoding,
            storage_class=storage_class, checksum=checksum))
        return AsyncMultipartWriter(up, self.client.transport)

    async def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort an unfinished multipart upload."""
        validate_key(key, self.name)
        await self._run(ops.abort_upload(self._engine, self.name, key, upload_id))

    # -- large objects ---------------------------------------------------------------------

    async def upload_file(
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
        """Upload a local file, parts in parallel tasks; a cancelled upload is aborted
        (unless ``resume=True``)."""
        return await self._run(transfer.upload_file(
            self._engine, self.name, path, key, part_size=part_size, concurrency=concurrency,
            content_type=content_type, metadata=metadata, checksum=checksum, resume=resume, progress=progress,
            cache_control=cache_control, content_disposition=content_disposition,
            content_encoding=content_encoding, storage_class=storage_class))

    async def upload_fileobj(
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
        """Upload from a readable binary stream (read in a thread; size may be unknown)."""
        return await self._run(transfer.upload_fileobj(
            self._engine, self.name, fileobj, key, part_size=part_size, concurrency=concurrency,
            content_type=content_type, metadata=metadata, checksum=checksum, progress=progress,
            cache_control=cache_control, content_disposition=content_disposition,
            content_encoding=content_encoding, storage_class=storage_class))

    async def download_file(self, key: str, path: str, *, concurrency: int | None = None,
                            progress: Progress | None = None, verify: bool = True, fsync: bool = False) -> ObjectInfo:
        """Download to ``path`` atomically (temp file + rename), verified; a cancelled
        download leaves no file."""
        return await self._run(transfer.download_file(self._engine, self.name, key, path, concurrency=concurrency,
                                                      progress=progress, verify=verify, fsync=fsync))

    async def download_fileobj(self, key: str, fileobj: BinaryIO, *, progress: Progress | None = None,
                               verify: bool = True) -> ObjectInfo:
        """Stream the object into a writable binary file object (written in a thread), verified."""
        return await self._run(transfer.download_fileobj(self._engine, self.name, key, fileobj, progress=progress,
                                                         verify=verify))
