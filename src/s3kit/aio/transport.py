"""HTTP/1.1 on asyncio: the async client's keep-alive pool. Knows bytes and sockets, not buckets.

Each connection is an :class:`asyncio.BufferedProtocol` that receives straight into its own
buffer (no bytes object per read); the head is parsed with the sync transport's
``parse_head`` and the same framing rules. No aiohttp or httpx: measured here, asyncio's
own transports cost ~20 us of CPU per request against ~90 us for aiohttp.

The trust rules are the sync pool's (see ``transport.py``): a connection goes back to the
pool only after an exactly framed answer with nothing received beyond it; a byte (or EOF)
that arrives while it sits idle marks it unusable (event-driven: no system call per
reuse); a failure, a timeout or a cancellation mid-request closes it. After ``fork()`` the
child forgets the parent's connections without touching the event loop (see
``_after_fork``). A transport is bound to the event loop that first used it; using it
from another running loop raises :class:`EventLoopError` instead of hanging.
"""

from __future__ import annotations

import asyncio
import os
import time

from .. import _fork
from ..config import Timeout
from ..errors import (
    ConnectTimeout,
    EventLoopError,
    IncompleteBody,
    OperationTimeout,
    PoolTimeout,
    ProtocolError,
    ReadTimeout,
    S3Error,
    TransportError,
)
from ..payload import rewind_point
from ..transport import (
    MAX_ERROR_BODY,
    Headers,
    HTTPResult,
    _bracket,
    _describe,
    _proxy_for,
    _request_head,
    make_ssl_context,
    parse_head,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping
    from typing import Any

    from ..flow import WireRequest

__all__ = ["AsyncTransport", "AsyncStreamingBody"]

_BUF = 256 * 1024  # receive buffer per connection; reading pauses when it is full
_MAX_HEAD = 64 * 1024
_MAX_LINE = 65536
_CHUNK = 1 << 20
_WRITE_CHUNK = 256 * 1024
_YIELD_EVERY = 1 << 20
_COALESCE = 64 * 1024
_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)  # distinct classes before Python 3.11
_graveyard: list[Any] = []  # a forked child's copies of the parent's connections: never closed there


class _Conn(asyncio.BufferedProtocol):
    """One connection: its asyncio transport and receive buffer, and what happened while
    it was idle."""

    def __init__(self, loop: asyncio.AbstractEventLoop, label: str) -> None:
        self.loop = loop
        self.label = label
        self.pid = _fork.getpid()
        self.transport: Any = None
        self.buf = bytearray(_BUF)
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.reading_paused = False
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.idle = False
        self.dirty = False  # received something (or the close) while idle
        self.proxied = False
        self.timeout = 30.0
        self.deadline: float | None = None

    # -- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.start == self.end:
            self.start = self.end = 0
        elif self.end == len(self.buf):
            n = self.end - self.start
            if self.start == 0:
                # full and the reader is behind: reading is paused, but a TLS layer may still
                # hand over what it already decrypted. Grow into a new buffer (the old one
                # may still be exported as a memoryview, so it is never resized).
                self._pause()
                new = bytearray(2 * len(self.buf))
                new[:n] = self.view[:n]
                self.buf, self.view = new, memoryview(new)
            else:
                self.buf[:n] = self.view[self.start:self.end]
                self.start, self.end = 0, n
        return self.view[self.end:]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        if self.idle:
            self.dirty = True
        if self.end == len(self.buf) and self.start == 0:
            self._pause()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        if self.idle:
            self.dirty = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        if self.idle:
            self.dirty = True
        self._wake()
        w = self.drain_waiter
        if w is not None and not w.done():
            w.set_exception(ConnectionResetError("connection lost while sending"))

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        w = self.drain_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _pause(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    # -- waiting ---------------------------------------------------------------------------

    def _limit(self) -> float:
        if self.deadline is None:
            return self.timeout
        return min(self.timeout, self.deadline - time.monotonic())

    async def _wait_data(self) -> None:
        """Wait until more bytes (or the end) arrive, at most one read timeout."""
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        limit = self._limit()
        if limit <= 0:
            raise TimeoutError
        fut = self.loop.create_future()
        self.waiter = fut
        timer = self.loop.call_later(limit, _expire, fut)
        try:
            await fut
        finally:
            timer.cancel()
            self.waiter = None

    async def drain(self) -> None:
        if not self.write_paused:
            return
        if self.eof:
            raise ConnectionResetError("connection closed while sending")
        fut = self.loop.create_future()
        self.drain_waiter = fut
        timer = self.loop.call_later(max(self._limit(), 0.0), _expire, fut)
        try:
            await fut
        finally:
            timer.cancel()
            self.drain_waiter = None

    # -- reading ---------------------------------------------------------------------------

    def buffered(self) -> int:
        return self.end - self.start

    async def read_head(self) -> bytes | None:
        searched = 0
        while True:
            base = self.start
            crlf = self.buf.find(b"\n\r\n", base + searched, self.end)
            lf = self.buf.find(b"\n\n", base + searched, self.end)
            if crlf >= 0 or lf >= 0:
                stop = crlf + 3 if lf < 0 or 0 <= crlf < lf else lf + 2
                head = bytes(self.view[base:stop])
                self.start = stop
                return head
            searched = max(0, self.end - base - 2)
            if self.end - base > _MAX_HEAD:
                raise ProtocolError(f"response head larger than {_MAX_HEAD} bytes")
            if self.eof:
                if self.end > base:
                    raise ConnectionResetError("connection closed inside the response head")
                return None
            await self._wait_data()

    async def readinto(self, b: Any) -> int:
        """Up to len(b) bytes; 0 at the end of the stream."""
        while self.start == self.end:
            if self.eof:
                return 0
            await self._wait_data()
        k = min(self.end - self.start, len(b))
        b[:k] = self.view[self.start:self.start + k]
        self.start += k
        return k

    async def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, fewer only at the end of the stream."""
        if self.end - self.start >= n:
            data = bytes(self.view[self.start:self.start + n])
            self.start += n
            return data
        out = bytearray(n)
        view = memoryview(out)
        got = 0
        while got < n:
            k = await self.readinto(view[got:])
            if not k:
                break
            got += k
        view.release()
        if got < n:
            del out[got:]
        return bytes(out)

    async def readline(self, limit: int) -> bytes:
        while True:
            i = self.buf.find(b"\n", self.start, self.end)
            if i >= 0:
                line = bytes(self.view[self.start:i + 1])
                self.start = i + 1
                return line
            if self.end - self.start > limit:
                raise ProtocolError("response line too long")
            if self.eof:
                line = bytes(self.view[self.start:self.end])
                self.start = self.end
                return line
            await self._wait_data()

    # -- writing ---------------------------------------------------------------------------

    async def send(self, head: bytes, body: Any) -> None:
        t = self.transport
        if body is None:
            t.write(head)
            await self.drain()
            return
        if isinstance(body, (bytes, bytearray, memoryview)):
            n = len(body)
            if n <= _COALESCE:
                t.write(head + body if n else head)  # one segment: no Nagle/delayed-ACK wait
                await self.drain()
                return
            t.write(head)
            view = memoryview(body)
            for off in range(0, n, _WRITE_CHUNK):
                t.write(view[off:off + _WRITE_CHUNK])
                await self.drain()
                if not off % _YIELD_EVERY:
                    # a socket that takes everything (loopback) never pauses us: without this a
                    # 48 MiB body went out in one 158 ms step of the event loop
                    await asyncio.sleep(0)
            return
        t.write(head)
        loop = self.loop
        while True:  # a file or stream: read it off the event loop
            chunk = await loop.run_in_executor(None, body.read, _CHUNK)
            if not chunk:
                break
            t.write(chunk)
            await self.drain()
            await asyncio.sleep(0)

    def quiet(self) -> bool:
        """Nothing arrived while idle, nothing buffered, still open."""
        return not (self.dirty or self.eof or self.start != self.end or self.transport is None
                    or self.transport.is_closing())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # a connection in doubt: no graceful close, no TLS close_notify wait


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class _HostPool:
    """Idle connections to one origin, LIFO; at most ``maxsize`` open at once."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.idle: list[_Conn] = []
        self.open = 0
        self.live: set[_Conn] = set()
        self.waiters: list[asyncio.Future[None]] = []

    async def take(self, wait: float, deadline: float | None, loop: asyncio.AbstractEventLoop) -> _Conn | None:
        while True:
            while self.idle:
                conn = self.idle.pop()
                if conn.quiet():
                    conn.idle = False
                    return conn
                self.discard(conn)
            if self.open < self.maxsize:
                self.open += 1
                return None
            limit = wait if deadline is None else min(wait, deadline - time.monotonic())
            fut = loop.create_future()
            self.waiters.append(fut)
            try:
                if limit <= 0:
                    raise TimeoutError
                await asyncio.wait_for(fut, limit)
            except _TIMEOUTS:
                if deadline is not None and time.monotonic() >= deadline - 1e-3:
                    raise OperationTimeout("the operation's total time ran out waiting for a connection") from None
                raise PoolTimeout(f"connection pool exhausted: {self.maxsize} connections busy for {wait:g} s "
                                  "(Timeout.pool)") from None
            finally:
                if fut in self.waiters:
                    self.waiters.remove(fut)

    def _notify(self) -> None:
        while self.waiters:
            fut = self.waiters.pop(0)
            if not fut.done():
                fut.set_result(None)
                return

    def give_back(self, conn: _Conn) -> None:
        conn.idle = True
        conn.dirty = False
        conn.deadline = None
        self.idle.append(conn)
        self._notify()

    def added(self, conn: _Conn) -> None:
        self.live.add(conn)

    def discard(self, conn: _Conn | None) -> None:
        try:
            if conn is not None:
                conn.close()
        finally:
            self.open -= 1
            if conn is not None:
                self.live.discard(conn)
            self._notify()

    def close(self) -> None:
        idle, self.idle = self.idle, []
        self.open -= len(idle)
        for c in idle:
            self.live.discard(c)
            c.close()


class AsyncTransport:
    """Pooled HTTP/1.1 on asyncio. ``await send(request)`` returns the answer."""

    def __init__(self, *, verify: bool | str = True, timeout: Timeout | None = None, maxsize: int = 64,
                 env: Mapping[str, str] = os.environ) -> None:
        self.verify = verify
        self.timeout = timeout or Timeout()
        self.maxsize = maxsize
        self._env = env
        self._pools: dict[tuple[str, str, int], _HostPool] = {}
        self._proxies: dict[tuple[str, str], tuple[str, int] | None] = {}
        self._ssl_context: ssl.SSLContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = _fork.getpid()
        _fork.register(self)

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's connections. Their asyncio transports are
        never closed here (that would unregister them from the epoll instance the child
        shares with its parent, stalling the parent's loop): they are kept referenced
        forever, and each socket descriptor is pointed at /dev/null, which drops the
        child's share of the connection without any shutdown or TLS alert."""
        old, self._pools = self._pools, {}
        self._loop = None
        self._pid = _fork.getpid()
        null = -1
        try:
            null = os.open(os.devnull, os.O_RDWR)
            for pool in old.values():
                for conn in list(pool.live) + pool.idle:
                    sock = conn.transport.get_extra_info("socket") if conn.transport is not None else None
                    if sock is not None:
                        try:
                            os.dup2(null, sock.fileno())
                        except OSError:
                            pass
        except OSError:
            pass
        finally:
            if null >= 0:
                os.close(null)
        _graveyard.append(old)

    def _check_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._pid != _fork.getpid():
            self._after_fork()
        bound = self._loop
        if bound is loop:
            return loop
        if bound is None or bound.is_closed():
            # first use, or the loop it was used on has ended (asyncio.run() again, a test's
            # loop): its connections died with it
            self._pools = {}
            self._loop = loop
            return loop
        raise EventLoopError("this AsyncS3Client is bound to another event loop that is still open; "
                             "create one client per event loop (or per thread running a loop)")

    # -- connections ---------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = make_ssl_context(self.verify)
        return self._ssl_context

    def proxy(self, scheme: str, host: str) -> tuple[str, int] | None:
        k = (scheme, host)
        if k not in self._proxies:
            self._proxies[k] = _proxy_for(scheme, host, self._env)
        return self._proxies[k]

    def _pool(self, key: tuple[str, str, int]) -> _HostPool:
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _HostPool(self.maxsize)
        return pool

    async def _connect(self, loop: asyncio.AbstractEventLoop, scheme: str, host: str, port: int,
                       timeouts: Timeout, deadline: float | None) -> _Conn:
        proxy = self.proxy(scheme, host)
        chost, cport = proxy or (host, port)
        limit = timeouts.connect
        if deadline is not None:
            limit = min(limit, deadline - time.monotonic())
            if limit <= 0:
                raise OperationTimeout("the operation's total time ran out before connecting")
        label = f"{_bracket(host)}:{port}"
        where = f"{_bracket(chost)}:{cport}"
        conn = _Conn(loop, label)
        conn.timeout = timeouts.read
        tls = self.ssl_context() if scheme == "https" else None
        try:
            if proxy is not None and tls is not None:
                await asyncio.wait_for(self._tunnel(loop, conn, chost, cport, host, port, tls), limit)
            else:
                await asyncio.wait_for(loop.create_connection(
                    lambda: conn, chost, cport, ssl=tls, server_hostname=host if tls else None), limit)
        except _TIMEOUTS:
            conn.close()
            if deadline is not None and time.monotonic() >= deadline - 1e-3:
                raise OperationTimeout(f"the operation's total time ran out connecting to {where}") from None
            raise ConnectTimeout(f"no connection to {where} within {limit:g} s", retryable=True) from None
        except S3Error:
            conn.close()
            raise
        except OSError as e:  # nothing was sent: always safe to try again
            conn.close()
            raise TransportError(f"cannot connect to {where}: {_describe(e)}", retryable=True) from None
        conn.proxied = proxy is not None and tls is None
        return conn

    async def _tunnel(self, loop: asyncio.AbstractEventLoop, conn: _Conn, chost: str, cport: int, host: str,
                      port: int, tls: ssl.SSLContext) -> None:
        """An https origin through an HTTP proxy: CONNECT, then TLS to the origin over it."""
        await loop.create_connection(lambda: conn, chost, cport)
        target = f"{_bracket(host)}:{port}"
        conn.transport.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("latin-1"))
        head = await conn.read_head()
        status = parse_head(head)[0] if head else 0
        if status != 200:
            raise TransportError(f"proxy {_bracket(chost)}:{cport} refused the tunnel to {target} (HTTP {status})")
        raw = conn.transport
        conn.transport = await loop.start_tls(raw, conn, tls, server_hostname=host)

    def open_connections(self) -> int:
        return sum(p.open for p in self._pools.values())

    def close(self) -> None:
        """Close idle connections (in-use ones close when their answers complete)."""
        for p in list(self._pools.values()):
            p.close()

    # -- one request ---------------------------------------------------------------------

    async def send(self, r: WireRequest) -> HTTPResult | AsyncStreamingBody:
        return await self.request(r.scheme, r.host, r.port, r.method, r.target, r.headers, r.body,
                                  stream=r.stream, max_body=r.max_body, deadline=r.deadline, timeout=r.timeout)

    async def request(self, scheme: str, host: str, port: int, method: str, target: str,
                      headers: Mapping[str, str], body: Any = None, *, stream: bool = False,
                      max_body: int | None = None, deadline: float | None = None,
                      timeout: Timeout | None = None) -> HTTPResult | AsyncStreamingBody:
        """As ``Transport.request``: one request, the answer whole or streaming; a reused
        connection found closed is retried once on a new one when the body can be replayed."""
        loop = self._check_loop()
        pool = self._pool((scheme, host, port))
        timeouts = timeout or self.timeout
        start = rewind_point(body)
        replayable = body is None or isinstance(body, (bytes, bytearray, memoryview)) or start is not None
        head = _request_head(method, target, headers)
        conn: _Conn | None = None
        for fresh in (False, True):
            conn = await pool.take(self.timeout.pool, deadline, loop)
            reused = conn is not None
            if conn is None:
                try:
                    conn = await self._connect(loop, scheme, host, port, timeouts, deadline)
                except BaseException:
                    pool.discard(None)
                    raise
                pool.added(conn)
            conn.timeout = timeouts.read
            conn.deadline = deadline
            try:
                if conn.proxied:
                    head = _request_head(method, f"{scheme}://{_bracket(host)}:{port}{target}", headers)
                try:
                    await conn.send(head, body)
                    status, rheaders = await _read_head(conn, reused and not fresh)
                except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                    if reused and not fresh:
                        raise _Stale() from None
                    raise
            except _Stale:
                pool.discard(conn)
                if replayable and method != "POST":
                    if start is not None:
                        body.seek(start)
                    continue
                raise TransportError(f"connection to {_bracket(host)}:{port} was closed by the server",
                                     retryable=replayable) from None
            except BaseException as e:  # a timeout, an error or a cancellation: state unknown
                pool.discard(conn)
                raise _wrap(e, conn.label, timeouts, deadline) from None
            break
        assert conn is not None
        resp = AsyncStreamingBody(conn, pool, status, rheaders, method, timeouts)
        if stream and status < 300:
            conn.deadline = None  # a streamed body is bounded per read, not in total
            return resp
        try:
            if status >= 300:
                data = await resp.read_all(MAX_ERROR_BODY, truncate=True)
            else:
                data = await resp.read_all(max_body, truncate=False)
        finally:
            resp.close()
        return HTTPResult(status, rheaders, data)


class _Stale(Exception):
    """A reused connection turned out closed before any answer byte arrived."""


async def _read_head(conn: _Conn, reused: bool) -> tuple[int, Headers]:
    while True:
        head = await conn.read_head()
        if head is None:
            if reused:
                raise _Stale()
            raise ConnectionResetError("server closed the connection without answering")
        status, headers, http10 = parse_head(head)
        if http10 and "keep-alive" not in headers.get("connection", "").lower():
            headers["connection"] = "close"
        if status >= 200 or status == 101:
            return status, headers


def _wrap(e: BaseException, where: str, timeout: Timeout, deadline: float | None) -> BaseException:
    if isinstance(e, S3Error) or not isinstance(e, Exception):
        return e  # ours, or a cancellation / interrupt: unchanged
    if isinstance(e, _TIMEOUTS):
        if deadline is not None and time.monotonic() >= deadline - 1e-3:
            return OperationTimeout(f"the operation's total time ran out waiting for {where}")
        return ReadTimeout(f"no data from {where} for {timeout.read:g} s", retryable=True)
    if isinstance(e, (OSError, ValueError)):
        return TransportError(f"request to {where} failed: {_describe(e)}", retryable=True)
    return e


class AsyncStreamingBody:
    """A response body read on demand with ``await readinto(b)`` / ``await read(n)``;
    the connection returns to the pool only when the body was read exactly to its end."""

    def __init__(self, conn: _Conn, pool: _HostPool, status: int, headers: Headers, method: str,
                 timeout: Timeout) -> None:
        self.status = status
        self.headers = headers
        self._conn: _Conn | None = conn
        self._pool = pool
        self._timeout = timeout
        self._label = conn.label
        self._pid = conn.pid
        self._keep = "close" not in headers.get("connection", "").lower()
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._chunk_left = 0
        self.length: int | None = None
        if method == "HEAD" or status in (204, 304) or status < 200:
            self.length = 0
        elif not self._chunked:
            cl = headers.get("content-length")
            if cl is not None and cl.isdigit():
                self.length = int(cl)
            else:
                self._keep = False
        self._left = self.length
        self.received = 0
        if self.length == 0:
            self._finish()

    def _check(self) -> _Conn:
        conn = self._conn
        assert conn is not None
        if self._pid != _fork.getpid():
            self._conn = None
            raise TransportError("the response stream was opened in another process (before fork()); "
                                 "not read here", retryable=True)
        return conn

    async def readinto(self, b: Any) -> int:
        if self._conn is None:
            return 0
        conn = self._check()
        try:
            if self._chunked or self._left is None:
                data = await self._read_other(conn, len(b))
                b[:len(data)] = data
                n = len(data)
            else:
                want = min(len(b), self._left)
                n = await conn.readinto(memoryview(b)[:want]) if want else 0
                if want and not n:
                    raise IncompleteBody(f"response body cut short: got {self.received} of {self.length} bytes",
                                         status=self.status, retryable=True)
                self._left -= n
                if self._left == 0:
                    self._finish()
        except BaseException as e:
            self._drop()
            raise _wrap(e, self._label, self._timeout, None) from None
        self.received += n
        return n

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            return await self.read_all(None, truncate=False)
        buf = bytearray(n)
        k = await self.readinto(buf)
        del buf[k:]
        return bytes(buf)

    async def _read_other(self, conn: _Conn, n: int) -> bytes:
        if not self._chunked:  # until the server closes
            buf = bytearray(min(n, _CHUNK))
            k = await conn.readinto(buf)
            if not k:
                self._finish()
            return bytes(buf[:k])
        return await self._read_chunk(conn, n)

    async def _read_chunk(self, conn: _Conn, n: int) -> bytes:
        if self._chunk_left == 0:
            line = await conn.readline(_MAX_LINE)
            if not line.endswith(b"\n"):
                raise IncompleteBody("chunked body cut short", status=self.status, retryable=True)
            try:
                size = int(line.split(b";", 1)[0].strip() or b"x", 16)
            except ValueError:
                raise ProtocolError(f"malformed chunk size line {line[:40]!r}") from None
            if size < 0:
                raise ProtocolError(f"malformed chunk size line {line[:40]!r}")
            if size == 0:
                while True:
                    t = await conn.readline(_MAX_LINE)
                    if t in (b"\r\n", b"\n"):
                        break
                    if not t.endswith(b"\n"):
                        raise IncompleteBody("chunked body cut short", status=self.status, retryable=True)
                self._finish()
                return b""
            self._chunk_left = size
        take = min(n, self._chunk_left)
        data = await conn.read(take)
        if len(data) < take:
            raise IncompleteBody("chunked body cut short", status=self.status, retryable=True)
        self._chunk_left -= take
        if self._chunk_left == 0 and await conn.readline(_MAX_LINE) not in (b"\r\n", b"\n"):
            raise ProtocolError("chunk not followed by CRLF")
        return data

    async def read_all(self, limit: int | None, truncate: bool) -> bytes:
        chunks = []
        got = 0
        buf = bytearray(_CHUNK if self._left is None or self._left > _CHUNK else max(1, self._left))
        view = memoryview(buf)
        while True:
            want = len(buf) if limit is None else min(len(buf), limit + 1 - got)
            n = await self.readinto(view[:want]) if want > 0 else 0
            if not n:
                break
            chunks.append(bytes(view[:n]))
            got += n
            if limit is not None and got > limit:
                self._drop()
                if truncate:
                    return b"".join(chunks)[:limit]
                raise TransportError(f"response body larger than the {limit} bytes expected", status=self.status)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._keep and not conn.buffered() and not conn.eof:
            self._pool.give_back(conn)
        else:
            self._pool.discard(conn)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.discard(conn)

    def close(self) -> None:
        if self._conn is not None:
            if self._pid != _fork.getpid():
                self._conn = None
                return
            self._drop()

    def __del__(self) -> None:
        if getattr(self, "_conn", None) is not None:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - interpreter or loop shutting down
                pass
