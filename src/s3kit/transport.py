"""HTTP/1.1 transport: a small keep-alive connection pool. Knows bytes and sockets, not buckets.

Connections are opened by ``http.client`` (TCP, TLS with certificate checks, proxy
tunnels); the per-request exchange is ours: the request head is written with one
``sendall`` (with the body when small), and answers are parsed from one receive buffer
kept per connection (:class:`_Reader`). Profiling showed http.client's per-request objects
(an HTTPResponse, a new socket file, an email-package header parser, per-header validation)
as the largest client-side cost of a small request.

Trust rules for keep-alive connections (each guards against a way to hand a caller the
wrong answer):
- a connection goes back to the pool only when its answer was framed exactly (full
  Content-Length or final chunk) and nothing beyond it was received;
- before reuse it must have nothing waiting: no buffered bytes and a socket that is not
  readable (a readable idle socket holds an unsolicited answer or the server's close);
- any failure mid-send or mid-read closes it;
- after fork() the child starts with empty pools and never touches the parent's sockets.

One :class:`Transport` holds a bounded pool per (scheme, host, port); it is thread-safe.
This module loads behind the lazy boundary (see ``_lazy.py``); ``ssl`` loads only for https.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import struct
import threading
import time
from _thread import allocate_lock

from . import _fork
from .config import Timeout
from .errors import (
    ConnectTimeout,
    IncompleteBody,
    InvalidArgument,
    OperationTimeout,
    PoolTimeout,
    ProtocolError,
    ReadTimeout,
    S3Error,
    TransportError,
)
from .payload import rewind_point

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping
    from typing import Any, BinaryIO

    from .flow import WireRequest

    Body = bytes | bytearray | memoryview | BinaryIO | None

__all__ = ["Timeout", "Transport", "HTTPResult", "StreamingBody", "Headers", "rewind_point"]

_MAX_HEAD = 64 * 1024  # status line + headers; S3 answers use a few hundred bytes
_MAX_HEADERS = 200
_MAX_LINE = 65536
_RECV_BUF = 64 * 1024
_CHUNK = 1 << 20
_SEND_CHUNK = 256 * 1024
_COALESCE = 64 * 1024  # bodies up to this size go out in the same sendall as the head
MAX_ERROR_BODY = 1 << 20


class Headers(dict):  # type: ignore[type-arg]
    """Response headers: a plain dict keyed by lower-case name (repeats joined by ", ")."""


class HTTPResult:
    """A whole answer: status, headers (lower-case names) and body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


# -- receiving -------------------------------------------------------------------------------


class _Reader:
    """The receive buffer of one connection.

    Ours rather than a ``BufferedReader`` because the pool must know whether bytes beyond
    an answer were received (an over-long body or an unsolicited answer), which a
    BufferedReader hides. The head is parsed from one buffer in one pass (fewer calls than
    a readline per header); large body reads go straight from the socket into the
    caller's buffer.
    """

    __slots__ = ("_recv_into", "_buf", "_view", "_start", "_end")

    def __init__(self, recv_into: Any) -> None:
        self._recv_into = recv_into
        self._buf = bytearray(_RECV_BUF)
        self._view = memoryview(self._buf)
        self._start = self._end = 0

    def buffered(self) -> int:
        return self._end - self._start

    def _fill(self) -> int:
        """Receive more bytes after those buffered; 0 at end of stream."""
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(self._buf):
            n = self._end - self._start
            if n == len(self._buf):
                raise ProtocolError(f"response head larger than {_MAX_HEAD} bytes")
            self._buf[:n] = self._view[self._start:self._end]
            self._start, self._end = 0, n
        got: int = self._recv_into(self._view[self._end:])
        self._end += got
        return got

    def read_head(self) -> bytes | None:
        """Bytes up to and including the blank line ending a head; None if the stream
        ended before any byte arrived."""
        buf = self._buf
        searched = 0  # bytes after _start already searched (the buffer may move on fill)
        while True:
            base = self._start
            crlf = buf.find(b"\n\r\n", base + searched, self._end)
            lf = buf.find(b"\n\n", base + searched, self._end)
            if crlf >= 0 or lf >= 0:  # the earlier of the two ends the head
                end = crlf + 3 if lf < 0 or 0 <= crlf < lf else lf + 2
                head = bytes(self._view[base:end])
                self._start = end
                return head
            searched = max(0, self._end - base - 2)
            had = self._end - base
            if not self._fill():
                if had:
                    raise ConnectionResetError("connection closed inside the response head")
                return None

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at end of stream)."""
        have = self._end - self._start
        if have >= n:
            data = bytes(self._view[self._start:self._start + n])
            self._start += n
            return data
        out = bytearray(n)
        view = memoryview(out)
        got = self.readinto(view)
        while got < n:
            k = self.readinto(view[got:])
            if not k:
                break
            got += k
        del view
        if got < n:
            del out[got:]
        return bytes(out)

    def read1(self, n: int) -> bytes:
        """Whatever is available, at most ``n`` bytes (one receive if nothing is buffered)."""
        if self._start == self._end and not self._fill():
            return b""
        k = min(n, self._end - self._start)
        data = bytes(self._view[self._start:self._start + k])
        self._start += k
        return data

    def readinto(self, b: Any) -> int:
        """Fill ``b`` from the buffer, else receive straight into it (no extra copy)."""
        have = self._end - self._start
        if have:
            k = min(have, len(b))
            b[:k] = self._view[self._start:self._start + k]
            self._start += k
            return k
        if len(b) < 8192:  # small reads go through the buffer: fewer system calls
            if not self._fill():
                return 0
            return self.readinto(b)
        n: int = self._recv_into(b)
        return n

    def readline(self, limit: int) -> bytes:
        while True:
            i = self._buf.find(b"\n", self._start, self._end)
            if i >= 0:
                line = bytes(self._view[self._start:i + 1])
                self._start = i + 1
                return line
            if self._end - self._start > limit:
                raise ProtocolError("response line too long")
            if not self._fill():
                line = bytes(self._view[self._start:self._end])
                self._start = self._end
                return line


def parse_head(head: bytes) -> tuple[int, Headers, bool]:
    """(status, headers, HTTP/1.0) from a response head. Pure: shared by every driver."""
    text = head.decode("latin-1")
    lines = text.split("\n")
    status_line = lines[0].rstrip("\r")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise ProtocolError(f"malformed status line {status_line[:100]!r}")
    if len(lines) > _MAX_HEADERS + 3:
        raise ProtocolError(f"more than {_MAX_HEADERS} response headers")
    headers = Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue  # the blank line(s) at the end, or junk
        name = name.strip().lower()
        value = value.strip()
        prev = headers.get(name)
        headers[name] = value if prev is None else f"{prev}, {value}"
    return int(parts[1]), headers, parts[0] == "HTTP/1.0"


# -- connections -----------------------------------------------------------------------------


class _Conn:
    """One pooled connection: the http.client connection that opened it, its socket, its
    receive buffer, and the process that opened it."""

    __slots__ = ("http", "sock", "reader", "idle_since", "proxied", "label", "pid", "poll", "kernel_timeout",
                 "timeout", "tls")

    def __init__(self, http: Any, proxied: bool, label: str) -> None:
        self.http = http
        self.sock: Any = None
        self.reader: _Reader = None  # type: ignore[assignment]
        self.idle_since = 0.0
        self.proxied = proxied
        self.label = label
        self.pid = _fork.getpid()
        self.poll: Any = None
        self.kernel_timeout = False
        self.timeout = 0.0
        self.tls = False

    def set_timeout(self, seconds: float) -> None:
        """Bound each socket read/write; a system call only when the value changes."""
        if seconds == self.timeout:
            return
        if self.kernel_timeout:
            _set_kernel_timeouts(self.sock, seconds)
        else:
            self.sock.settimeout(seconds)
        self.timeout = seconds

    def quiet(self) -> bool:
        """Nothing waiting: no buffered bytes, and the socket has nothing to read. An idle
        keep-alive socket that is readable holds an unsolicited answer or the server's
        close; either way it must not carry the next request (measured: ~1.5 us)."""
        if self.reader.buffered():
            return False
        if self.poll is None:
            self.poll = select.poll()
            self.poll.register(self.sock, select.POLLIN | select.POLLPRI)
        if self.tls and self.sock.pending():
            return False  # decrypted bytes waiting inside the TLS layer
        if not self.poll.poll(0):
            return True
        return self.tls and self._tls_quiet()

    def _tls_quiet(self) -> bool:
        # TLS 1.3 servers may send session tickets after the handshake: readable, but no
        # application data. Only real data or a close makes the connection unusable.
        import ssl

        sock = self.sock
        try:
            sock.setblocking(False)
            try:
                sock.recv(1)  # data (unsolicited) or b"" (closed): unusable either way
            finally:
                sock.settimeout(self.timeout)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        except OSError:
            return False
        return False

    def close(self) -> None:
        self.http.close()


def _set_kernel_timeouts(sock: Any, seconds: float) -> None:
    tv = struct.pack("ll", int(seconds), int((seconds % 1) * 1_000_000) or (0 if seconds >= 1 else 1000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)


def _kernel_timeouts(sock: Any, seconds: float) -> bool:
    """Blocking socket with SO_RCVTIMEO/SO_SNDTIMEO instead of a Python-level timeout.

    A socket with settimeout() polls before every send and recv: one more system call
    per I/O (measured: 44 -> 18 us of system CPU per small GET). Kernel timeouts bound
    each call the same way; an expired one surfaces as EAGAIN (see _recv_into_blocking).
    """
    try:
        sock.settimeout(None)
        _set_kernel_timeouts(sock, seconds)
        return True
    except (OSError, struct.error, AttributeError):
        return False


def _recv_into_blocking(sock: Any) -> Any:
    recv_into = sock.recv_into

    def recv(b: Any) -> int:
        try:
            return recv_into(b)  # type: ignore[no-any-return]
        except BlockingIOError:  # SO_RCVTIMEO expired
            raise TimeoutError("timed out") from None

    return recv


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
        if h == entry or h.endswith("." + entry) or f"[{h}]" == entry:
            return None
    if "://" in url:
        url = url.split("://", 1)[1]
    url = url.rstrip("/").rsplit("@", 1)[-1]  # credentials in proxy URLs are not supported
    if url.startswith("["):  # [IPv6]:port
        phost, _, rest = url[1:].partition("]")
        return phost, int(rest[1:]) if rest[1:].isdigit() else (8080 if scheme == "http" else 3128)
    phost, sep, pport = url.rpartition(":")
    if not sep or not pport.isdigit():
        return url, 8080 if scheme == "http" else 3128
    return phost, int(pport)


class _HostPool:
    """Idle connections to one origin, LIFO; at most ``maxsize`` open at once."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.idle: list[_Conn] = []
        self.open = 0
        self.live: set[_Conn] = set()  # every open connection, idle or in use (for fork)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)

    def take(self, wait: float, deadline: float | None) -> _Conn | None:
        """A quiet idle connection, or None after reserving a slot for a new one."""
        while True:
            conn = None
            with self.lock:
                if self.idle:
                    conn = self.idle.pop()
                elif self.open < self.maxsize:
                    self.open += 1
                    return None
                else:
                    limit = wait if deadline is None else min(wait, deadline - time.monotonic())
                    if limit <= 0 or not self.cond.wait(limit):
                        if deadline is not None and time.monotonic() >= deadline - 1e-3:
                            raise OperationTimeout("the operation's total time ran out waiting for a connection")
                        raise PoolTimeout(f"connection pool exhausted: {self.maxsize} connections "
                                          f"busy for {wait:g} s (Timeout.pool)")
                    continue
            try:
                quiet = conn.quiet()  # checked outside the lock: a system call per reuse
            except (OSError, ValueError):
                quiet = False
            if quiet:
                return conn
            self.discard(conn)

    def give_back(self, conn: _Conn) -> None:
        conn.idle_since = time.monotonic()
        with self.lock:
            self.idle.append(conn)
            self.cond.notify()

    def added(self, conn: _Conn) -> None:
        with self.lock:
            self.live.add(conn)

    def discard(self, conn: _Conn | None) -> None:
        try:
            if conn is not None:
                conn.close()
        finally:
            with self.lock:
                self.open -= 1
                if conn is not None:
                    self.live.discard(conn)
                self.cond.notify()

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
            self.open -= len(idle)
            self.live.difference_update(idle)
        for c in idle:
            c.close()

    def close_for_fork(self) -> None:
        """In a forked child: close our copies of every socket (idle or in use by a parent
        thread) without any locking (a parent thread may have held the lock) and without
        shutdown() or TLS close_notify, which would end the parent's connection too."""
        for c in list(self.live) + self.idle:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - nothing to report from a dead connection
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
        pool_wait: float | None = None,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.verify = verify
        self.timeout = timeout or Timeout()
        self.maxsize = maxsize
        self.pool_wait = self.timeout.pool if pool_wait is None else pool_wait
        self._env = env
        self._pools: dict[tuple[str, str, int], _HostPool] = {}
        self._proxies: dict[tuple[str, str], tuple[str, int] | None] = {}
        self._lock = allocate_lock()
        self._ssl_context: ssl.SSLContext | None = None
        self._pid = _fork.getpid()
        _fork.register(self)

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's connections (closing only our copies)."""
        old, self._pools = self._pools, {}
        self._lock = allocate_lock()
        self._pid = _fork.getpid()
        for pool in old.values():
            pool.close_for_fork()

    # -- connections ---------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = make_ssl_context(self.verify)
        return self._ssl_context

    def _pool(self, key: tuple[str, str, int]) -> _HostPool:
        if self._pid != _fork.getpid():  # a fork that bypassed os.register_at_fork
            self._after_fork()
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(key, _HostPool(self.maxsize))
        return pool

    def proxy(self, scheme: str, host: str) -> tuple[str, int] | None:
        k = (scheme, host)
        if k not in self._proxies:
            self._proxies[k] = _proxy_for(scheme, host, self._env)
        return self._proxies[k]

    def _connect(self, scheme: str, host: str, port: int, deadline: float | None,
                 timeouts: Timeout | None = None) -> _Conn:
        timeouts = timeouts or self.timeout
        proxy = self.proxy(scheme, host)
        chost, cport = proxy or (host, port)
        limit = timeouts.connect
        if deadline is not None:
            limit = min(limit, deadline - time.monotonic())
            if limit <= 0:
                raise OperationTimeout("the operation's total time ran out before connecting")
        hc: http.client.HTTPConnection
        if scheme == "https":
            hc = http.client.HTTPSConnection(chost, cport, timeout=limit, context=self.ssl_context())
            if proxy:
                hc.set_tunnel(host, port)
        else:
            hc = http.client.HTTPConnection(chost, cport, timeout=limit)
        conn = _Conn(hc, bool(proxy) and scheme == "http", f"{_bracket(host)}:{port}")
        where = f"{_bracket(chost)}:{cport}"
        try:
            hc.connect()  # TCP_NODELAY set by http.client; TLS handshake and tunnel here
        except TimeoutError:
            hc.close()
            if deadline is not None and time.monotonic() >= deadline - 1e-3:
                raise OperationTimeout(f"the operation's total time ran out connecting to {where}") from None
            raise ConnectTimeout(f"no connection to {where} within {limit:g} s", retryable=True) from None
        except OSError as e:  # nothing was sent: always safe to try again
            hc.close()
            raise TransportError(f"cannot connect to {where}: {_describe(e)}", retryable=True) from None
        conn.sock = sock = hc.sock
        conn.tls = scheme == "https"
        if scheme == "http" and _kernel_timeouts(sock, timeouts.read):
            conn.kernel_timeout = True
            conn.reader = _Reader(_recv_into_blocking(sock))
        else:
            sock.settimeout(timeouts.read)
            conn.reader = _Reader(sock.recv_into)
        conn.timeout = timeouts.read
        return conn

    def open_connections(self) -> int:
        """Connections currently open (idle + in use), for tests and diagnostics."""
        return sum(p.open for p in self._pools.values())

    def close(self) -> None:
        for p in list(self._pools.values()):
            p.close()

    # -- one request ---------------------------------------------------------------------

    def send(self, r: WireRequest) -> HTTPResult | StreamingBody:
        """The driver's entry point: one :class:`~s3kit.flow.WireRequest`."""
        return self.request(r.scheme, r.host, r.port, r.method, r.target, r.headers, r.body,
                            stream=r.stream, max_body=r.max_body, deadline=r.deadline, timeout=r.timeout)

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
        deadline: float | None = None,
        timeout: Timeout | None = None,
    ) -> HTTPResult | StreamingBody:
        """Send one request; read the whole answer, or return it streaming.

        A reused connection that the server had closed is retried once on a new one,
        when the body can be replayed. ``max_body`` bounds what is read into memory.
        ``deadline`` (a ``time.monotonic()`` value) bounds the connect, the pool wait and
        every read up to the head (and a non-streamed body). ``timeout`` overrides the
        transport's connect and read timeouts for this request. An error answer (status
        >= 300) is always read whole (at most 1 MiB), also when ``stream`` was asked for.
        """
        pool = self._pool((scheme, host, port))
        start = rewind_point(body)
        replayable = body is None or isinstance(body, (bytes, bytearray, memoryview)) or start is not None
        head = _request_head(method, target, headers)
        timeouts = timeout or self.timeout
        read_timeout = timeouts.read
        for fresh in (False, True):
            conn = pool.take(self.pool_wait, deadline)
            reused = conn is not None
            if conn is None:
                try:
                    conn = self._connect(scheme, host, port, deadline, timeouts)
                except BaseException:
                    pool.discard(None)
                    raise
                pool.added(conn)
            try:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise OperationTimeout("the operation's total time ran out")
                    conn.set_timeout(min(read_timeout, left))
                else:
                    conn.set_timeout(read_timeout)
                if conn.proxied:
                    head = _request_head(method, f"{scheme}://{_bracket(host)}:{port}{target}", headers)
                try:
                    _send(conn.sock, head, body)
                    status, rheaders = _read_head(conn.reader, reused and not fresh)
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
                raise TransportError(f"connection to {_bracket(host)}:{port} was closed by the server",
                                     retryable=replayable)
            except BaseException as e:
                pool.discard(conn)
                raise _wrap(e, conn.label, timeouts, deadline) from None
            break
        assert conn is not None
        resp = StreamingBody(conn, pool, status, rheaders, method, timeouts, deadline)
        if stream and status < 300:
            if deadline is not None and resp._conn is not None:
                conn.set_timeout(read_timeout)  # a streamed body is bounded per read, not in total
                resp._deadline = None
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


def make_ssl_context(verify: bool | str) -> ssl.SSLContext:
    """Certificates verified unless ``verify`` is False; a str is a CA file or directory."""
    import ssl  # https only: 15 ms to import

    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        if os.path.isdir(verify):
            ctx = ssl.create_default_context(capath=verify)
        else:
            ctx = ssl.create_default_context(cafile=verify)
    else:
        ctx = ssl.create_default_context()
    return ctx


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


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


def _read_head(reader: _Reader, reused: bool) -> tuple[int, Headers]:
    """Status and headers of the next answer (1xx answers skipped)."""
    while True:
        head = reader.read_head()
        if head is None:
            if reused:
                raise _Stale()
            raise ConnectionResetError("server closed the connection without answering")
        status, headers, http10 = parse_head(head)
        if http10 and "keep-alive" not in headers.get("connection", "").lower():
            headers["connection"] = "close"
        if status >= 200 or status == 101:
            return status, headers


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _wrap(e: BaseException, where: str, timeout: Timeout, deadline: float | None = None) -> BaseException:
    """Turn socket errors into S3Errors; leave ours and interrupts alone."""
    if isinstance(e, S3Error) or not isinstance(e, Exception):
        return e
    if isinstance(e, (socket.timeout, BlockingIOError)):  # BlockingIOError: SO_SNDTIMEO expired
        if deadline is not None and time.monotonic() >= deadline - 1e-3:
            return OperationTimeout(f"the operation's total time ran out waiting for {where}")
        return ReadTimeout(f"no data from {where} for {timeout.read:g} s", retryable=True)
    if isinstance(e, (OSError, ValueError)):
        return TransportError(f"request to {where} failed: {_describe(e)}", retryable=True)
    return e


class StreamingBody:
    """A response body read on demand (Content-Length or chunked). Returns its connection
    to the pool when fully read and nothing more was received; one closed early is
    discarded, never reused.

    Never returns a short body as complete: if the server stops before Content-Length,
    ``read`` raises :class:`IncompleteBody`.
    """

    def __init__(self, conn: _Conn, pool: _HostPool, status: int, headers: Headers, method: str,
                 timeout: Timeout, deadline: float | None = None) -> None:
        self.status = status
        self.headers = headers
        self._conn: _Conn | None = conn
        self._pool = pool
        self._timeout = timeout
        self._deadline = deadline
        self._reader = conn.reader
        self._label = conn.label
        self._pid = conn.pid
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

    def _check_process(self) -> None:
        if self._pid != _fork.getpid():
            # this socket is the parent's: reading it would steal the parent's bytes
            self._conn = None
            raise TransportError("the response stream was opened in another process (before fork()); "
                                 "not read here", retryable=True)

    # -- reading -------------------------------------------------------------------------

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left if ``n`` < 0); b"" at the end."""
        if self._conn is None:
            return b""
        self._check_process()
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
        self._check_process()
        if self._chunked or self._left is None:
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)
        try:
            want = min(len(b), self._left)
            n = self._reader.readinto(memoryview(b)[:want]) if want else 0
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
            if n < 0:
                chunks = []
                while True:
                    c = self._reader.read1(_CHUNK)
                    if not c:
                        break
                    chunks.append(c)
                data = b"".join(chunks)
            else:
                data = self._reader.read1(n)
            if not data or n < 0:
                self._finish()
            return data
        want = self._left if n < 0 else min(n, self._left)
        data = self._reader.read(want) if want else b""
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
        reader = self._reader
        while want != 0:
            if self._chunk_left == 0:
                line = reader.readline(_MAX_LINE)
                if not line.endswith(b"\n"):
                    raise IncompleteBody("chunked body cut short", status=self.status, retryable=True)
                try:
                    size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                except ValueError:
                    raise ProtocolError(f"malformed chunk size line {line[:40]!r}") from None
                if size < 0:
                    raise ProtocolError(f"malformed chunk size line {line[:40]!r}")
                if size == 0:
                    while True:  # trailers, up to the blank line
                        t = reader.readline(_MAX_LINE)
                        if t in (b"\r\n", b"\n"):
                            break
                        if not t.endswith(b"\n"):
                            raise IncompleteBody("chunked body cut short", status=self.status, retryable=True)
                    self._finish()
                    break
                self._chunk_left = size
            take = self._chunk_left if want < 0 else min(want, self._chunk_left)
            data = reader.read(take)
            if len(data) < take:
                raise IncompleteBody("chunked body cut short", status=self.status, retryable=True)
            out.append(data)
            self._chunk_left -= take
            if self._chunk_left == 0:
                if reader.readline(_MAX_LINE) not in (b"\r\n", b"\n"):  # CRLF after the chunk
                    raise ProtocolError("chunk not followed by CRLF")
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
        return _wrap(e, self._label, self._timeout, self._deadline)

    # -- releasing -----------------------------------------------------------------------

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # bytes beyond the framed answer mean the framing is in doubt: never reuse
        if self._keep and not conn.reader.buffered():
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
            if self._pid != _fork.getpid():
                self._conn = None  # the parent's: the fork hook closed our copy
                return
            self._drop()

    def __enter__(self) -> StreamingBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_conn", None) is not None:
            self.close()
