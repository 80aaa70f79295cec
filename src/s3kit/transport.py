"""HTTP/1.1 transport: a small keep-alive connection pool. Knows bytes and sockets, not buckets.

Connections are opened by ``http.client`` (TCP, TLS with certificate checks, proxy
tunnels); the per-request exchange is ours: the request head is written with one
``sendall`` (with the body when small), and answers are parsed from one buffered reader
kept per connection. Profiling showed http.client's per-request objects (an HTTPResponse,
a new socket file, an email-package header parser, per-header validation) as the largest
client-side cost of a small request.

One :class:`Transport` holds a bounded pool per (scheme, host, port); it is thread-safe.
``http.client`` and ``ssl`` are imported on first use to keep ``import s3kit`` cheap.
"""

from __future__ import annotations

import os
import time
from _thread import allocate_lock

from .errors import ConnectTimeout, IncompleteBody, InvalidArgument, ReadTimeout, TransportError

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping
    from typing import Any, BinaryIO

    Body = bytes | bytearray | memoryview | BinaryIO | None

__all__ = ["Timeout", "Transport", "HTTPResult", "StreamingBody", "Headers", "rewind_point"]

_MAX_HEADERS = 200
_MAX_LINE = 65536
_CHUNK = 1 << 20
_SEND_CHUNK = 256 * 1024
_COALESCE = 64 * 1024  # bodies up to this size go out in the same sendall as the head
_IDLE_CHECK = 1.0  # idle seconds after which a pooled connection is checked before reuse
MAX_ERROR_BODY = 1 << 20


class Timeout:
    """Seconds to wait for a connection, and for each read of a response.

    ``read`` bounds every socket read, so a stalled body fails too.
    """

    __slots__ = ("connect", "read")

    def __init__(self, connect: float = 5.0, read: float = 30.0) -> None:
        self.connect = float(connect)
        self.read = float(read)

    def __repr__(self) -> str:
        return f"Timeout(connect={self.connect:g}, read={self.read:g})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeout) and (self.connect, self.read) == (other.connect, other.read)


class Headers(dict):  # type: ignore[type-arg]
    """Response headers: a plain dict keyed by lower-case name (repeats joined by ", ")."""


class HTTPResult:
    """A whole answer: status, headers (lower-case names) and body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Conn:
    """One pooled connection: the http.client connection that opened it, its socket and
    the buffered reader kept for every answer on it."""

    __slots__ = ("http", "sock", "rfile", "idle_since", "proxied", "label")

    def __init__(self, http: Any, proxied: bool, label: str) -> None:
        self.http = http
        self.sock: Any = None
        self.rfile: Any = None
        self.idle_since = 0.0
        self.proxied = proxied
        self.label = label

    def close(self) -> None:
        try:
            if self.rfile is not None:
                self.rfile.close()
        finally:
            self.http.close()


def _load_http() -> Any:
    import http.client

    return http.client


def _proxy_for(scheme: str, host: str, env: Mapping[str, str]) -> tuple[str, int] | None:
    """(host, port) of the proxy to use for ``scheme://host``, honouring NO_PROXY."""
    url = env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY")
    if not url:
        return None
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    h = host.lower()
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return None
        entry = entry.lstrip(".")
        if h == entry or h.endswith("." + entry):
            return None
    if "://" in url:
        url = url.split("://", 1)[1]
    url = url.rstrip("/").rsplit("@", 1)[-1]  # credentials in proxy URLs are not supported
    phost, sep, pport = url.rpartition(":")
    if not sep or not pport.isdigit():
        return url, 8080 if scheme == "http" else 3128
    return phost, int(pport)


def _sock_dead(conn: _Conn) -> bool:
    """An idle keep-alive socket that is readable was closed (or sent junk) by the server."""
    import select

    try:
        r, _, _ = select.select([conn.sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(r)


class _HostPool:
    """Idle connections to one origin, LIFO; at most ``maxsize`` open at once."""

    def __init__(self, maxsize: int, wait: float) -> None:
        import threading  # first request only: keeps "import s3kit" cheap

        self.maxsize = maxsize
        self.wait = wait
        self.idle: list[_Conn] = []
        self.open = 0
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)

    def take(self) -> _Conn | None:
        """An idle live connection, or None after reserving a slot for a new one."""
        dead = []
        now = time.monotonic()
        with self.lock:
            while True:
                conn = None
                while self.idle:
                    c = self.idle.pop()
                    # a socket used within the last second is trusted; an older one is
                    # checked (one poll) since servers close idle keep-alive connections
                    if now - c.idle_since < _IDLE_CHECK or not _sock_dead(c):
                        conn = c
                        break
                    dead.append(c)
                    self.open -= 1
                if conn is not None:
                    break
                if self.open < self.maxsize:
                    self.open += 1
                    break
                if not self.cond.wait(self.wait):
                    raise TransportError(
                        f"connection pool exhausted: {self.maxsize} connections busy for {self.wait:.0f} s"
                    )
        for d in dead:
            d.close()
        return conn

    def give_back(self, conn: _Conn) -> None:
        conn.idle_since = time.monotonic()
        with self.lock:
            self.idle.append(conn)
            self.cond.notify()

    def discard(self, conn: _Conn | None) -> None:
        try:
            if conn is not None:
                conn.close()
        finally:
            with self.lock:
                self.open -= 1
                self.cond.notify()

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
            self.open -= len(idle)
        for c in idle:
            c.close()


def _kernel_timeouts(sock: Any, seconds: float) -> bool:
    """Blocking socket with SO_RCVTIMEO/SO_SNDTIMEO instead of a Python-level timeout.

    A socket with settimeout() polls before every send and recv: one more system call
    per I/O (measured: 44 -> 18 us of system CPU per small GET). Kernel timeouts bound
    each call the same way; an expired one surfaces as EAGAIN (see _SocketReader).
    """
    import socket
    import struct

    try:
        tv = struct.pack("ll", int(seconds), int((seconds % 1) * 1_000_000))
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        return True
    except (OSError, struct.error, AttributeError):
        return False


class _SocketReader:
    """Raw reader for a blocking socket with kernel timeouts: EAGAIN means timed out
    (socket.makefile's reader would report it as end of data)."""

    def __init__(self, sock: Any) -> None:
        self._recv_into = sock.recv_into
        self.closed = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            return self._recv_into(b)  # type: ignore[no-any-return]
        except BlockingIOError:
            raise TimeoutError("timed out") from None

    def close(self) -> None:
        self.closed = True

    def flush(self) -> None:
        pass


class _Stale(Exception):
    """A reused connection turned out closed before any answer byte arrived."""


class Transport:
    """Pooled HTTP/1.1 client. ``request`` sends one request and returns the answer."""

    def __init__(
        self,
        *,
        verify: bool | str = True,
        timeout: Timeout | None = None,
        maxsize: int = 64,
        pool_wait: float = 60.0,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.verify = verify
        self.timeout = timeout or Timeout()
        self.maxsize = maxsize
        self.pool_wait = pool_wait
        self._env = env
        self._pools: dict[tuple[str, str, int], _HostPool] = {}
        self._proxies: dict[tuple[str, str], tuple[str, int] | None] = {}
        self._lock = allocate_lock()
        self._ssl_context: ssl.SSLContext | None = None

    # -- connections ---------------------------------------------------------------------

    def ssl_context(self) -> "ssl.SSLContext":
        if self._ssl_context is None:
            import ssl

            if self.verify is False:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif isinstance(self.verify, str):
                if os.path.isdir(self.verify):
                    ctx = ssl.create_default_context(capath=self.verify)
                else:
                    ctx = ssl.create_default_context(cafile=self.verify)
            else:
                ctx = ssl.create_default_context()
            self._ssl_context = ctx
        return self._ssl_context

    def _pool(self, key: tuple[str, str, int]) -> _HostPool:
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(key, _HostPool(self.maxsize, self.pool_wait))
        return pool

    def proxy(self, scheme: str, host: str) -> tuple[str, int] | None:
        k = (scheme, host)
        if k not in self._proxies:
            self._proxies[k] = _proxy_for(scheme, host, self._env)
        return self._proxies[k]

    def _connect(self, scheme: str, host: str, port: int) -> _Conn:

        hc = _load_http()
        proxy = self.proxy(scheme, host)
        chost, cport = proxy or (host, port)
        if scheme == "https":
            http = hc.HTTPSConnection(chost, cport, timeout=self.timeout.connect, context=self.ssl_context())
            if proxy:
                http.set_tunnel(host, port)
        else:
            http = hc.HTTPConnection(chost, cport, timeout=self.timeout.connect)
        conn = _Conn(http, bool(proxy) and scheme == "http", f"{host}:{port}")
        try:
            http.connect()  # TCP_NODELAY set by http.client; TLS handshake and tunnel here
        except TimeoutError:
            http.close()
            raise ConnectTimeout(f"no connection to {chost}:{cport} within {self.timeout.connect:g} s",
                                 retryable=True) from None
        except OSError as e:  # nothing was sent: always safe to try again
            http.close()
            raise TransportError(f"cannot connect to {chost}:{cport}: {_describe(e)}", retryable=True) from None
        conn.sock = sock = http.sock
        if scheme == "http" and _kernel_timeouts(sock, self.timeout.read):
            import io

            conn.rfile = io.BufferedReader(_SocketReader(sock), 65536)
        else:
            sock.settimeout(self.timeout.read)
            conn.rfile = sock.makefile("rb", buffering=65536)
        return conn

    def open_connections(self) -> int:
        """Connections currently open (idle + in use), for tests and diagnostics."""
        return sum(p.open for p in self._pools.values())

    def close(self) -> None:
        for p in list(self._pools.values()):
            p.close()

    # -- one request ---------------------------------------------------------------------

    def request(
        self,
        scheme: str,
        host: str,
        port: int,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: Body = None,
        *,
        stream: bool = False,
        max_body: int | None = None,
    ) -> HTTPResult | "StreamingBody":
        """Send one request; read the whole answer, or return it streaming.

        A reused connection that the server had closed is retried once on a new one,
        when the body can be replayed. ``max_body`` bounds what is read into memory.
        """
        pool = self._pool((scheme, host, port))
        start = rewind_point(body)
        replayable = body is None or isinstance(body, (bytes, bytearray, memoryview)) or start is not None
        head = _request_head(method, target, headers)
        for fresh in (False, True):
            conn = pool.take()
            reused = conn is not None
            if conn is None:
                try:
                    conn = self._connect(scheme, host, port)
                except BaseException:
                    pool.discard(None)
                    raise
            try:
                if conn.proxied:
                    head = _request_head(method, f"{scheme}://{host}:{port}{target}", headers)
                try:
                    _send(conn.sock, head, body)
                    status, rheaders = _read_head(conn.rfile, reused and not fresh)
                except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                    if reused and not fresh:
                        raise _Stale() from None  # closed while idle: a reset instead of EOF
                    raise
            except _Stale:
                pool.discard(conn)
                # The server may have closed before or after reading the request. Replaying
                # is safe for idempotent methods only; a POST (initiate/complete multipart)
                # goes back to the caller's retry loop, which accounts for ambiguity.
                if replayable and method != "POST":
                    if start is not None:
                        body.seek(start)  # type: ignore[union-attr]
                    continue
                raise TransportError(f"connection to {host}:{port} was closed by the server",
                                     retryable=replayable)
            except BaseException as e:
                pool.discard(conn)
                raise _wrap(e, conn.label, self.timeout) from None
            break
        assert conn is not None
        resp = StreamingBody(conn, pool, status, rheaders, method, self.timeout)
        if stream:
            return resp
        try:
            if status >= 300:
                # error bodies are small; a server announcing more gets cut off
                data = resp.read_all(MAX_ERROR_BODY, truncate=True)
            else:
                data = resp.read_all(max_body, truncate=False)
        finally:
            resp.close()
        return HTTPResult(status, rheaders, data)


def _request_head(method: str, target: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    for k, v in headers.items():
        if "\n" in v or "\r" in v:
            raise InvalidArgument(f"header {k!r} contains a line break")
        lines.append(f"{k}: {v}\r\n")
    lines.append("\r\n")
    try:
        return "".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidArgument("header values must be Latin-1 (non-ASCII metadata is encoded for you)") from None


def _send(sock: Any, head: bytes, body: Body) -> None:
    if body is None or isinstance(body, (bytes, bytearray, memoryview)):
        if body is not None and len(body):
            if len(body) <= _COALESCE:
                sock.sendall(head + body)  # one segment: no Nagle/delayed-ACK wait
                return
            sock.sendall(head)
            sock.sendall(body)
            return
        sock.sendall(head)
        return
    sock.sendall(head)
    read = body.read
    while True:
        chunk = read(_SEND_CHUNK)
        if not chunk:
            break
        sock.sendall(chunk)


def _read_head(rfile: Any, reused: bool) -> tuple[int, Headers]:
    """Status and headers of the next answer (1xx answers skipped)."""
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if not line:
            if reused:
                raise _Stale()
            raise ConnectionResetError("server closed the connection without answering")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ConnectionError(f"malformed status line {line[:100]!r}")
        status = int(parts[1])
        headers = Headers()
        for _ in range(_MAX_HEADERS + 1):
            hl = rfile.readline(_MAX_LINE + 1)
            if hl in (b"\r\n", b"\n"):
                break
            if not hl:
                raise ConnectionResetError("connection closed inside the response headers")
            if len(hl) > _MAX_LINE:
                raise ConnectionError("response header line too long")
            name, sep, value = hl.decode("latin-1").partition(":")
            if not sep:
                continue
            name = name.strip().lower()
            value = value.strip()
            prev = headers.get(name)
            headers[name] = value if prev is None else f"{prev}, {value}"
        else:
            raise ConnectionError(f"more than {_MAX_HEADERS} response headers")
        if parts[0] == b"HTTP/1.0" and "keep-alive" not in headers.get("connection", "").lower():
            headers["connection"] = "close"
        if status >= 200 or status == 101:
            return status, headers


def rewind_point(body: Any) -> int | None:
    """Where to seek back to before re-sending ``body``; None if it cannot be replayed."""
    if body is None or isinstance(body, (bytes, bytearray, memoryview)) or not hasattr(body, "seek"):
        return None
    seekable = getattr(body, "seekable", None)
    try:
        if seekable is not None and not seekable():
            return None
        return int(body.tell())
    except (OSError, ValueError):
        return None


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _wrap(e: BaseException, where: str, timeout: Timeout) -> BaseException:
    """Turn socket errors into S3Errors; leave ours and interrupts alone."""
    import socket

    from .errors import S3Error

    if isinstance(e, S3Error) or not isinstance(e, Exception):
        return e
    if isinstance(e, (socket.timeout, BlockingIOError)):  # BlockingIOError: SO_SNDTIMEO expired
        return ReadTimeout(f"no data from {where} for {timeout.read:g} s", retryable=True)
    if isinstance(e, (OSError, ValueError)):
        return TransportError(f"request to {where} failed: {_describe(e)}", retryable=True)
    return e


class StreamingBody:
    """A response body read on demand (Content-Length or chunked). Returns its connection
    to the pool when fully read; one closed early is discarded, never reused.

    Never returns a short body as complete: if the server stops before Content-Length,
    ``read`` raises :class:`IncompleteBody`.
    """

    def __init__(self, conn: _Conn, pool: _HostPool, status: int, headers: Headers, method: str,
                 timeout: Timeout) -> None:
        self.status = status
        self.headers = headers
        self._conn: _Conn | None = conn
        self._pool = pool
        self._timeout = timeout
        self._rfile = conn.rfile
        self._label = conn.label
        self._keep = "close" not in headers.get("connection", "").lower()
        te = headers.get("transfer-encoding", "").lower()
        self._chunked = "chunked" in te
        self._chunk_left = 0
        self.length: int | None = None
        if method == "HEAD" or status in (204, 304) or status < 200:
            self.length = 0
        elif not self._chunked:
            cl = headers.get("content-length")
            if cl is not None and cl.isdigit():
                self.length = int(cl)
            else:
                self._keep = False  # body runs to connection close
        self._left = self.length  # None: chunked or until close
        self.received = 0
        if self.length == 0:
            self._finish()

    # -- reading -------------------------------------------------------------------------

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left if ``n`` < 0); b"" at the end."""
        if self._conn is None:
            return b""
        try:
            data = self._read(n)
        except BaseException as e:
            self._drop()
            raise self._error(e) from None
        self.received += len(data)
        return data

    def readinto(self, b: Any) -> int:
        """Read into a caller's buffer (no allocation per chunk); 0 at the end."""
        if self._conn is None:
            return 0
        if self._chunked or self._left is None:
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)
        try:
            want = min(len(b), self._left)
            n = self._rfile.readinto(memoryview(b)[:want]) if want else 0
            if want and not n:
                raise IncompleteBody(f"response body cut short: got {self.received} of {self.length} bytes",
                                     status=self.status, retryable=True)
        except BaseException as e:
            self._drop()
            raise self._error(e) from None
        self._left -= n
        self.received += n
        if self._left == 0:
            self._finish()
        return n

    def _read(self, n: int) -> bytes:
        if self._chunked:
            return self._read_chunked(n)
        if self._left is None:  # until the server closes
            data = self._rfile.read() if n < 0 else self._rfile.read1(n)
            if not data:
                self._finish()
            return data  # type: ignore[no-any-return]
        want = self._left if n < 0 else min(n, self._left)
        data = self._rfile.read(want) if want else b""
        if len(data) < want:
            raise IncompleteBody(f"response body cut short: got {self.received + len(data)} of "
                                 f"{self.length} bytes", status=self.status, retryable=True)
        self._left -= len(data)
        if self._left == 0:
            self._finish()
        return data

    def _read_chunked(self, n: int) -> bytes:
        out = []
        want = n if n >= 0 else -1
        while want != 0:
            if self._chunk_left == 0:
                line = self._rfile.readline(_MAX_LINE)
                if not line:
                    raise IncompleteBody("chunked body cut short", status=self.status, retryable=True)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self._rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._finish()
                    break
                self._chunk_left = size
            take = self._chunk_left if want < 0 else min(want, self._chunk_left)
            data = self._rfile.read(take)
            if len(data) < take:
                raise IncompleteBody("chunked body cut short", status=self.status, retryable=True)
            out.append(data)
            self._chunk_left -= take
            if self._chunk_left == 0:
                self._rfile.readline(_MAX_LINE)  # CRLF after the chunk
            if want > 0:
                want -= take
                break  # return what one chunk gave, like a socket read
        return b"".join(out)

    def read_all(self, limit: int | None, truncate: bool) -> bytes:
        """The rest of the body, read in chunks so memory follows the bytes that arrive
        (a hostile Content-Length allocates nothing). Past ``limit``: cut off (and the
        connection dropped) if ``truncate``, else an error."""
        if self._left is not None and (limit is None or self._left <= limit) and self._left <= _CHUNK:
            return self.read(-1)
        chunks = []
        got = 0
        while True:
            want = _CHUNK if limit is None else min(_CHUNK, limit + 1 - got)
            chunk = self.read(want) if want > 0 else b""
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if limit is not None and got > limit:
                self._drop()
                if truncate:
                    return b"".join(chunks)[:limit]
                raise TransportError(f"response body larger than the {limit} bytes expected", status=self.status)
        return b"".join(chunks)

    def _error(self, e: BaseException) -> BaseException:
        return _wrap(e, self._label, self._timeout)

    # -- releasing -----------------------------------------------------------------------

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._keep:
            self._pool.give_back(conn)
        else:
            self._pool.discard(conn)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.discard(conn)

    def close(self) -> None:
        """Release the connection; one not fully read is closed, never reused."""
        if self._conn is not None:
            self._drop()

    def __enter__(self) -> "StreamingBody":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_conn", None) is not None:
            self._drop()
