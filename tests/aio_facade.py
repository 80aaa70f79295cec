"""The async client behind the sync API, so one integration suite runs against both clients.

Every awaited method of ``AsyncS3Client``/``AsyncS3Bucket`` is submitted to one event loop
running in a background thread and waited for; async iterators are pulled item by item;
``open()`` returns a sync file-like view of the async reader. Calls made from many threads
become concurrent tasks on that one loop (the 32-thread tests are 32 tasks there).
Nothing here is async-specific logic: the client under test does all the work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import io
import threading
from collections.abc import Iterator
from typing import Any

from s3kit import AsyncS3Bucket, AsyncS3Client


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="s3kit-test-loop", daemon=True)
        self.thread.start()

    def call(self, coro: Any) -> Any:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        while True:
            try:
                return fut.result(timeout=1)
            except concurrent.futures.TimeoutError:  # not the builtin one before Python 3.11
                if not self.thread.is_alive():  # never hang on a dead loop: say so
                    raise RuntimeError("the test event loop thread died") from None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class _Facade:
    _target: Any
    _lt: LoopThread

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **kw: self._wrap(self._lt.call(attr(*a, **kw)))
        if inspect.isasyncgenfunction(attr):
            return lambda *a, **kw: self._iterate(attr(*a, **kw))
        if inspect.ismethod(attr):  # plain methods (bucket(), ...): their results wrapped too
            return lambda *a, **kw: self._wrap(attr(*a, **kw))
        return self._wrap(attr)

    def _iterate(self, agen: Any) -> Iterator[Any]:
        while True:
            try:
                item = self._lt.call(agen.__anext__())
            except StopAsyncIteration:
                return
            yield self._wrap(item)

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, AsyncS3Bucket):
            return BucketFacade(value, self._lt)
        if isinstance(value, AsyncS3Client):
            return ClientFacade(value, self._lt)
        if isinstance(value, list) and value and isinstance(value[0], AsyncS3Bucket):
            return [BucketFacade(b, self._lt) for b in value]
        if type(value).__name__ == "AsyncMultipartWriter":
            return ObjectFacade(value, self._lt)
        return value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Facade) and other._target == self._target

    def __hash__(self) -> int:
        return hash(self._target)

    def __repr__(self) -> str:
        return f"Facade({self._target!r})"


class ObjectFacade(_Facade):
    """Any other async object: awaited methods, and ``async with`` as ``with``."""

    def __init__(self, obj: Any, lt: LoopThread) -> None:
        self._target = obj
        self._lt = lt

    def __enter__(self) -> ObjectFacade:
        self._lt.call(self._target.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self._lt.call(self._target.__aexit__(*exc))


class ClientFacade(_Facade):
    def __init__(self, client: AsyncS3Client, lt: LoopThread) -> None:
        self._target = client
        self._lt = lt

    def __enter__(self) -> ClientFacade:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BucketFacade(_Facade):
    def __init__(self, bucket: AsyncS3Bucket, lt: LoopThread) -> None:
        self._target = bucket
        self._lt = lt

    def open(self, key: str, **kw: Any) -> io.BufferedReader:
        reader = self._lt.call(self._target.open(key, **kw).__aenter__())
        return io.BufferedReader(_SyncReader(reader, self._lt), 256 * 1024)


class _SyncReader(io.RawIOBase):
    def __init__(self, reader: Any, lt: LoopThread) -> None:
        super().__init__()
        self._r = reader
        self._lt = lt

    @property
    def info(self) -> Any:
        return self._r.info

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return int(self._r.tell())

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._r.seek(offset, whence))

    def readinto(self, b: Any) -> int:
        return int(self._lt.call(self._r.readinto(b)))

    def close(self) -> None:
        if not self.closed:
            self._lt.call(self._r.close())
        super().close()


def async_client(lt: LoopThread, *args: Any, **kw: Any) -> ClientFacade:
    """An ``AsyncS3Client`` created on the loop thread, seen through the sync API."""

    async def make() -> AsyncS3Client:
        return AsyncS3Client(*args, **kw)

    return ClientFacade(lt.call(make()), lt)
