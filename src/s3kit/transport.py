"""HTTP/1.1 transport: a small keep-alive connection pool over ``http.client``.

Knows bytes and sockets, not buckets. One :class:`Transport` holds a bounded pool per
(scheme, host, port); it is thread-safe. ``http.client`` and ``ssl`` are imported on first
use so that importing s3kit stays cheap.
"""

from __future__ import annotations

import os
import select
import threading
from typing import TYPE_CHECKING, Any, BinaryIO, Mapping, NamedTuple, Optional, Union

from .errors import ConnectTimeout, IncompleteBody, ReadTimeout, TransportError

if TYPE_CHECKING:
    import http.client
    import ssl

__all__ = ["Timeout", "Transport", "HTTPResult", "StreamingBody", "Body"]

Body = Union[bytes, bytearray, memoryview, BinaryIO, None]

_MAX_HEADERS = 200
_MAX_LINE = 65536
_CHUNK = 1 << 20
MAX_ERROR_BODY = 1 << 20


class Timeout(NamedTuple):
    """Seconds to wait for a connection, and for each read of a response.

    ``read`` bounds every socket read, so a stalled body fails too.
    """

    connect: float = 5.0
    read: float = 30.0


class Headers(dict):  # type: ignore[type-arg]
    """Response headers: a plain dict keyed by lower-case name (repeats joined by ", ")."""

    def get_all(self, name: str, default: Any = None) -> Any:  # http.client.getheader uses it
        v = self.get(name.lower())
        return [v] if v is not None else default


class HTTPResult(NamedTuple):
    status: int
    headers: Headers
    body: bytes


_http_client: Any = None
_FastResponse: Any = None


def _load_http() -> Any:
    """Import http.client and define the fast response class on first use."""
    global _http_client, _FastResponse
    if _http_client is not None:
        return _http_client
    import http.client as hc

    class FastResponse(hc.HTTPResponse):
        """``HTTPResponse`` whose header parsing skips the email package.

        http.client builds an ``email.message.Message`` per response; a dict parse of the
        same lines costs a fraction of it (profiled as the largest per-request cost).
        """

        def begin(self) -> None:
            if self.headers is not None:
                return
            fp = self.fp
            while True:
                version, status, reason = self._read_status()
                headers = Headers()
                for _ in range(_MAX_HEADERS + 1):
                    line = fp.readline(_MAX_LINE + 1)
                    if len(line) > _MAX_LINE:
                        raise hc.LineTooLong("header line")
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, sep, value = line.decode("iso-8859-1").partition(":")
                    if not sep:
                        continue  # obs-fold or junk: ignored, as S3 never sends it
                    name = name.strip().lower()
                    value = value.strip()
                    prev = headers.get(name)
                    headers[name] = value if prev is None else f"{prev}, {value}"
                else:
                    raise hc.HTTPException(f"got more than {_MAX_HEADERS} headers")
                if status != 100:
                    break
            self.code = self.status = status
            self.reason = reason.strip()
            if version in ("HTTP/1.0", "HTTP/0.9"):
                self.version = 10
            elif version.startswith("HTTP/1."):
                self.version = 11
            else:
                raise hc.UnknownProtocol(version)
            self.headers = self.msg = headers  # type: ignore[assignment]
            tr_enc = headers.get("transfer-encoding")
            self.chunked = bool(tr_enc) and tr_enc.lower() == "chunked"  # type: ignore[union-attr]
            self.chunk_left = None
            self.will_close = self._check_close()
            self.length = None
            length = headers.get("content-length")
            if length and not self.chunked:
                try:
                    n = int(length)
                except ValueError:
                    n = -1
                self.length = n if n >= 0 else None
            if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":
                self.length = 0
            if not self.will_close and not self.chunked and self.length is None:
                self.will_close = True

    _FastResponse = FastResponse
    _http_client = hc
    return hc


def _proxy_for(scheme: str, host: str, env: Mapping[str, str]) -> Optional[tuple[str, int]]:
    """(host, port) of the proxy to use for ``scheme://host``, honouring NO_PROXY."""
    url = env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY")
    if not url:
        return None
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return None
        entry = entry.lstrip(".")
        h = host.lower()
        if h == entry or h.endswith("." + entry):
            return None
    if "://" in url:
        url = url.split("://", 1)[1]
    url = url.rstrip("/").rsplit("@", 1)[-1]  # credentials in proxy URLs are not supported
    phost, _, pport = url.rpartition(":") if url.count(":") == 1 else (url, "", "")
    if not _ or not pport.isdigit():
        return url, 8080 if scheme == "http" else 3128
    return phost, int(pport)


def _sock_dead(conn: Any) -> bool:
    """An idle keep-alive socket that is readable was closed (or sent junk) by the server."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        r, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(r)


class _HostPool:
    """Idle connections to one origin, LIFO; at most ``maxsize`` open at once."""

    def __init__(self, maxsize: int, wait: float) -> None:
        self.maxsize = maxsize
        self.wait = wait
        self.idle: list[Any] = []
        self.open = 0
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)

    def take(self) -> Optional[Any]:
        """An idle live connection, or None after reserving a slot for a new one."""
        dead = []
        with self.lock:
            while True:
                while self.idle:
                    conn = self.idle.pop()
                    if not _sock_dead(conn):
                        break
                    dead.append(conn)
                    self.open -= 1
                else:
                    conn = None
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

    def give_back(self, conn: Any) -> None:
        with self.lock:
            self.idle.append(conn)
            self.cond.notify()

    def discard(self, conn: Any) -> None:
        try:
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


# Errors that mean "the reused keep-alive connection was already closed by the server".
def _stale_errors() -> tuple[type[BaseException], ...]:
    hc = _load_http()
    return (hc.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Transport:
    """Pooled HTTP/1.1 client. ``request`` sends one request and returns the answer."""

    def __init__(
        self,
        *,
        verify: Union[bool, str] = True,
        timeout: Timeout = Timeout(),
        maxsize: int = 64,
        pool_wait: float = 60.0,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.verify = verify
        self.timeout = timeout
        self.maxsize = maxsize
        self.pool_wait = pool_wait
        self._env = env
        self._pools: dict[tuple[str, str, int], _HostPool] = {}
        self._proxies: dict[tuple[str, str], Optional[tuple[str, int]]] = {}
        self._lock = threading.Lock()
        self._ssl_context: Optional[ssl.SSLContext] = None

    # -- connections ---------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
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

    def proxy(self, scheme: str, host: str) -> Optional[tuple[str, int]]:
        k = (scheme, host)
        if k not in self._proxies:
            self._proxies[k] = _proxy_for(scheme, host, self._env)
        return self._proxies[k]

    def _new_conn(self, scheme: str, host: str, port: int) -> Any:
        hc = _load_http()
        proxy = self.proxy(scheme, host)
        chost, cport = proxy or (host, port)
        if scheme == "https":
            conn = hc.HTTPSConnection(chost, cport, timeout=self.timeout.connect,
                                      context=self.ssl_context(), blocksize=262144)
            if proxy:
                conn.set_tunnel(host, port)
        else:
            conn = hc.HTTPConnection(chost, cport, timeout=self.timeout.connect, blocksize=262144)
        conn.response_class = _FastResponse
        conn._s3k_proxied = bool(proxy) and scheme == "http"  # absolute-form request target
        return conn

    def _connect(self, conn: Any) -> None:
        import socket

        try:
            conn.connect()
        except socket.timeout:
            raise ConnectTimeout(
                f"no connection to {conn.host}:{conn.port} within {self.timeout.connect:g} s", retryable=True
            ) from None
        except OSError as e:  # nothing was sent: always safe to try again
            raise TransportError(f"cannot connect to {conn.host}:{conn.port}: {_describe(e)}",
                                 retryable=True) from None
        conn.sock.settimeout(self.timeout.read)

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
        max_body: Optional[int] = None,
    ) -> Union[HTTPResult, "StreamingBody"]:
        """Send one request; read the whole answer, or return it streaming.

        A reused connection that the server had closed is retried once on a new one,
        when the body can be replayed. ``max_body`` bounds what is read into memory.
        """
        hc = _load_http()
        key = (scheme, host, port)
        pool = self._pool(key)
        start = rewind_point(body)
        replayable = body is None or isinstance(body, (bytes, bytearray, memoryview)) or start is not None
        for fresh_try in (False, True):
            conn = pool.take()
            reused = conn is not None
            if conn is None:
                try:
                    conn = self._new_conn(scheme, host, port)
                    self._connect(conn)
                except BaseException:
                    pool.discard(conn) if conn is not None else pool.discard(_Closed())
                    raise
            try:
                path = f"{scheme}://{host}:{port}{target}" if conn._s3k_proxied else target
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                if isinstance(body, (bytes, bytearray, memoryview)) or body is None:
                    conn.endheaders(body if body else None)
                else:
                    conn.endheaders()
                    _send_stream(conn, body)
                resp = conn.getresponse()
            except _stale_errors() as e:
                pool.discard(conn)
                if reused and not fresh_try and replayable:
                    if start is not None:
                        body.seek(start)  # type: ignore[union-attr]
                    continue
                raise TransportError(f"connection to {host}:{port} lost: {_describe(e)}",
                                     retryable=replayable) from None
            except BaseException as e:
                pool.discard(conn)
                raise _wrap(e, host, port, self.timeout) from None
            break
        if stream:
            return StreamingBody(resp, conn, pool, self.timeout)
        keep = not resp.will_close
        try:
            if resp.status >= 300:
                # error bodies are small; a server announcing more gets cut off
                data, complete = _read_body(resp, MAX_ERROR_BODY, truncate=True)
                keep = keep and complete
            else:
                data, _ = _read_body(resp, max_body, truncate=False)
        except BaseException as e:
            pool.discard(conn)
            raise _wrap(e, host, port, self.timeout) from None
        if keep:
            pool.give_back(conn)
        else:
            pool.discard(conn)
        return HTTPResult(resp.status, resp.headers, data)


def rewind_point(body: Any) -> Optional[int]:
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


class _Closed:
    def close(self) -> None:
        pass


def _send_stream(conn: Any, body: Any) -> None:
    read = body.read
    while True:
        chunk = read(262144)
        if not chunk:
            break
        conn.send(chunk)


def _read_body(resp: Any, limit: Optional[int], truncate: bool) -> tuple[bytes, bool]:
    """Read a whole body in chunks, so memory follows the bytes that actually arrive
    (http.client would allocate whatever Content-Length announces up front).

    Returns (data, complete). Past ``limit``: cut off if ``truncate``, else an error.
    A body shorter than its Content-Length raises IncompleteBody.
    """
    hc = _load_http()
    length = resp.length
    if length is not None and length <= _CHUNK and (limit is None or length <= limit):
        try:
            return resp.read(), True  # the common small body: one read
        except hc.IncompleteRead as e:
            raise IncompleteBody(f"response body cut short: got {len(e.partial)} of {length} bytes",
                                 status=resp.status, retryable=True) from None
    chunks = []
    got = 0
    while True:
        want = _CHUNK if limit is None else min(_CHUNK, limit + 1 - got)
        chunk = resp.read(want) if want > 0 else b""
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
        if limit is not None and got > limit:
            if truncate:
                return b"".join(chunks)[:limit], False
            raise TransportError(f"response body larger than the {limit} bytes expected", status=resp.status)
    if length is not None and got < length:
        raise IncompleteBody(f"response body cut short: got {got} of {length} bytes",
                             status=resp.status, retryable=True)
    return b"".join(chunks), True


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _wrap(e: BaseException, host: str, port: int, timeout: Timeout) -> BaseException:
    """Turn socket / http.client errors into S3Errors; leave ours and interrupts alone."""
    import socket

    from .errors import S3Error

    if isinstance(e, S3Error) or not isinstance(e, Exception):
        return e
    hc = _load_http()
    if isinstance(e, socket.timeout):
        return ReadTimeout(f"no data from {host}:{port} for {timeout.read:g} s", retryable=True)
    if isinstance(e, hc.IncompleteRead):
        return IncompleteBody(f"response body cut short: {_describe(e)}", retryable=True)
    if isinstance(e, (OSError, hc.HTTPException)):
        return TransportError(f"request to {host}:{port} failed: {_describe(e)}", retryable=True)
    return e


class StreamingBody:
    """A response body read on demand. Returns its connection to the pool when fully read.

    Never returns a short body as complete: if the server stops before Content-Length,
    ``read`` raises :class:`IncompleteBody`.
    """

    def __init__(self, resp: Any, conn: Any, pool: _HostPool, timeout: Timeout) -> None:
        self.status: int = resp.status
        self.headers: Headers = resp.headers
        self._resp = resp
        self._conn: Any = conn
        self._pool = pool
        self._timeout = timeout
        self.length: Optional[int] = resp.length  # None for chunked
        self.received = 0

    def read(self, n: int = -1) -> bytes:
        if self._conn is None:
            return b""
        try:
            data = self._resp.read() if n is None or n < 0 else self._resp.read(n)
        except BaseException as e:
            self._drop()
            hc = _load_http()
            if isinstance(e, hc.IncompleteRead):
                raise IncompleteBody(
                    f"response body cut short after {self.received + len(e.partial)} bytes",
                    status=self.status, retryable=True,
                ) from None
            raise _wrap(e, self._conn_host(), 0, self._timeout) from None
        self.received += len(data)
        # http.client closes the response at Content-Length, at the last chunk, or at EOF;
        # only the last is an error when fewer bytes than announced arrived.
        if not data or self._resp.isclosed():
            if self.length is not None and self.received < self.length:
                self._drop()
                raise IncompleteBody(
                    f"response body cut short: got {self.received} of {self.length} bytes",
                    status=self.status, retryable=True,
                )
            self._finish()
        return data

    def readinto(self, b: Any) -> int:
        """Read into a caller's buffer (no per-chunk allocation); 0 at the end."""
        if self._conn is None:
            return 0
        try:
            n = self._resp.readinto(b)
        except BaseException as e:
            self._drop()
            raise _wrap(e, self._conn_host(), 0, self._timeout) from None
        self.received += n
        if not n or self._resp.isclosed():
            if self.length is not None and self.received < self.length:
                self._drop()
                raise IncompleteBody(
                    f"response body cut short: got {self.received} of {self.length} bytes",
                    status=self.status, retryable=True,
                )
            self._finish()
        return n

    def _conn_host(self) -> str:
        return getattr(self._pool, "host", "server")

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._resp.will_close:
            self._pool.discard(conn)
        else:
            self._pool.give_back(conn)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._resp.close()
            self._pool.discard(conn)

    def close(self) -> None:
        """Release the connection; one not fully read is closed, never reused."""
        if self._conn is not None:
            if self._resp.isclosed():
                self._finish()
            else:
                self._drop()

    def __enter__(self) -> "StreamingBody":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_conn", None) is not None:
            self._drop()
