"""A fault-injecting HTTP/1.1 proxy for tests, loopback only.

Sits between s3kit and a real server and, following a seeded schedule, injects:
``reset_before`` (request forwarded, connection reset before the answer),
``reset_mid_body``, ``slowdown_503`` and ``internal_500`` (answered by the proxy, the server
never sees the request), ``truncated`` (full Content-Length, half the body, then FIN),
``stall`` (no answer for longer than the client's read timeout), ``flip_byte`` (one
bit flipped in the body of an object GET) and ``flip_request_byte`` (one bit flipped in the
body of an upload on its way to the server; forced only, never drawn at random).
"""

from __future__ import annotations

import collections
import random
import socket
import struct
import threading
import time
from collections.abc import Iterable

KINDS = ("reset_before", "reset_mid_body", "slowdown_503", "internal_500", "truncated", "stall", "flip_byte")
_BODY_KINDS = {"reset_mid_body", "truncated", "flip_byte"}


def _error(status: int, reason: str, code: str) -> bytes:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>injected by the fault proxy</Message><RequestId>proxy</RequestId></Error>").encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
            f"x-amz-request-id: proxy-{code}\r\n\r\n").encode() + body


_CANNED = {"slowdown_503": _error(503, "Slow Down", "SlowDown"),
           "internal_500": _error(500, "Internal Server Error", "InternalError")}


def _read_head(rfile) -> bytes | None:  # type: ignore[no-untyped-def]
    lines = []
    while True:
        line = rfile.readline(65537)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _headers(head: bytes) -> dict[str, str]:
    out = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def _read_body(rfile, headers: dict[str, str], no_body: bool) -> bytes:  # type: ignore[no-untyped-def]
    if no_body:
        return b""
    if "content-length" in headers:
        n = int(headers["content-length"])
        data = rfile.read(n)
        if len(data) != n:
            raise ConnectionError("short body from peer")
        return data
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raw = []
        while True:
            size_line = rfile.readline()
            raw.append(size_line)
            size = int(size_line.split(b";")[0], 16)
            chunk = rfile.read(size + 2)
            raw.append(chunk)
            if size == 0:
                return b"".join(raw)
    return b""


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    """``with FaultProxy(("127.0.0.1", port), rate=0.1, seed=1) as p: p.endpoint``."""

    def __init__(self, upstream: tuple[str, int], *, rate: float = 0.0, seed: int = 0,
                 kinds: Iterable[str] = KINDS, stall_seconds: float = 2.0) -> None:
        assert upstream[0].startswith("127.") or upstream[0] in ("localhost", "::1"), "loopback only"
        self.upstream = upstream
        self.rate = rate
        self.kinds = tuple(kinds)
        self.stall_seconds = stall_seconds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: collections.Counter[str] = collections.Counter()
        self.requests = 0
        self.forced: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.running = True
        self.threads: list[threading.Thread] = []
        self.client_socks: set[socket.socket] = set()
        self.accept_thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def force(self, kind: str, times: int = 1) -> None:
        """Inject ``kind`` into the next ``times`` requests it applies to."""
        with self.lock:
            self.forced += [kind] * times

    def __enter__(self) -> "FaultProxy":
        self.accept_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.accept_thread.join()
        self.listener.close()
        for s in list(self.client_socks):
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while self.running:
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.client_socks.add(sock)
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()

    def _choose(self, method: str, path: str) -> tuple[str | None, bool]:
        """(fault kind or None, whether it was a forced one, now reserved for this request)."""
        with self.lock:
            self.requests += 1
            if self.forced:
                return self.forced.pop(0), True
            if self.rng.random() >= self.rate:
                return None, False
            return self.rng.choice(self.kinds), False

    def _release(self, kind: str) -> None:
        """A reserved forced fault that did not apply to its request goes back in line."""
        with self.lock:
            self.forced.insert(0, kind)

    def _applies(self, kind: str, method: str, path: str, status: int, body: bytes) -> bool:
        if kind == "flip_byte":
            # object GETs only: listings and other XML answers carry no checksum to catch it
            return method == "GET" and status in (200, 206) and len(body) > 0 and "?" not in path \
                and path.count("/") >= 2
        if kind in ("reset_mid_body", "truncated"):
            return len(body) > 1
        return True

    def _took(self, kind: str) -> None:
        with self.lock:
            self.injected[kind] += 1

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        crfile = client.makefile("rb")
        urfile = None
        try:
            while self.running:
                head = _read_head(crfile)
                if head is None:
                    return
                method, path = head.split(b" ", 2)[:2]
                m, p = method.decode(), path.decode()
                req_body = _read_body(crfile, _headers(head), no_body=False)
                kind, forced = self._choose(m, p)
                if kind == "flip_request_byte":
                    if m == "PUT" and req_body:
                        self._took(kind)
                        b = bytearray(req_body)
                        b[self.rng.randrange(len(b))] ^= 0x10
                        req_body = bytes(b)
                    else:
                        self._release(kind)
                    kind = None
                if kind in _CANNED:
                    self._took(kind)
                    client.sendall(_CANNED[kind])
                    continue
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                    urfile = upstream.makefile("rb")
                upstream.sendall(head + req_body)
                rhead = _read_head(urfile)
                if rhead is None:
                    raise ConnectionError("upstream closed")
                status = int(rhead.split(b" ", 2)[1])
                rh = _headers(rhead)
                body = _read_body(urfile, rh, no_body=(m == "HEAD" or status in (204, 304) or status < 200))
                if kind is not None and not self._applies(kind, m, p, status, body):
                    if forced:
                        self._release(kind)
                    kind = None
                if kind == "reset_before":
                    self._took(kind)
                    _reset(client)
                    return
                if kind == "stall":
                    self._took(kind)
                    time.sleep(self.stall_seconds)
                    client.close()
                    return
                if kind == "reset_mid_body":
                    self._took(kind)
                    client.sendall(rhead + body[: len(body) // 2])
                    _reset(client)
                    return
                if kind == "truncated":
                    self._took(kind)
                    client.sendall(rhead + body[: len(body) // 2])
                    client.shutdown(socket.SHUT_RDWR)
                    client.close()
                    return
                if kind == "flip_byte":
                    self._took(kind)
                    b = bytearray(body)
                    b[self.rng.randrange(len(b))] ^= 0x10
                    body = bytes(b)
                client.sendall(rhead + body)
                if "close" in rh.get("connection", "").lower():
                    return
        except (OSError, ValueError, ConnectionError):
            return
        finally:
            self.client_socks.discard(client)
            for s in (client, upstream):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
