"""Connections whose framing is in doubt are never reused (issue 10, defect 4), and waits are
bounded (defect 12). Scripted raw-socket servers play the hostile or silent peer."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import s3kit
from s3kit import Retry, S3Client, Timeout
from s3kit.transport import Transport


class Scripted:
    """Serves connections with ``script(conn_index, request_index, head) -> list of (delay, bytes)``."""

    def __init__(self, script, family: int = socket.AF_INET) -> None:  # type: ignore[no-untyped-def]
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.srv = socket.create_server((host, 0), family=family)
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.srv.getsockname()[1])

    def _accept(self) -> None:
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            n = self.connections
            self.connections += 1
            threading.Thread(target=self._serve, args=(c, n), daemon=True).start()

    def _serve(self, c: socket.socket, n: int) -> None:
        with c:
            f = c.makefile("rb")
            i = 0
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    try:
                        line = f.readline()
                    except OSError:  # the client closed a connection it no longer trusts
                        return
                    if not line:
                        return
                    head += line
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    f.read(length)
                self.requests.append(head)
                try:
                    for delay, data in self.script(n, i, head):
                        if delay:
                            time.sleep(delay)
                        c.sendall(data)
                except OSError:
                    return
                i += 1

    def close(self) -> None:
        self.stop = True
        self.srv.close()


def answer(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def client(port: int, **kw: object) -> S3Client:
    kw.setdefault("retry", Retry(max_attempts=1))
    return S3Client(f"http://127.0.0.1:{port}", "AKID", "SECRET", **kw)  # type: ignore[arg-type]


def test_unsolicited_answer_in_the_same_segment_is_not_taken_as_the_next() -> None:
    forged = answer(b"FORGED", 'ETag: "x"\r\n')

    def script(conn: int, req: int, head: bytes) -> list[tuple[float, bytes]]:
        return [(0, answer(f"real {conn}.{req}".encode()) + (forged if req == 0 else b""))]

    srv = Scripted(script)
    c = client(srv.port)
    assert c.bucket("b").get("k", verify=False) == b"real 0.0"
    assert c.bucket("b").get("k", verify=False) != b"FORGED"
    srv.close()


def test_unsolicited_answer_arriving_while_idle_is_not_taken_as_the_next() -> None:
    forged = answer(b"FORGED")

    def script(conn: int, req: int, head: bytes) -> list[tuple[float, bytes]]:
        out = [(0.0, answer(f"real {conn}.{req}".encode()))]
        if req == 0:
            out.append((0.05, forged))  # after the answer, while the connection sits idle
        return out

    srv = Scripted(script)
    c = client(srv.port)
    assert c.bucket("b").get("k", verify=False) == b"real 0.0"
    time.sleep(0.2)  # reused well within the old 1 s "trust a recent socket" window
    got = c.bucket("b").get("k", verify=False)
    assert got != b"FORGED" and got.startswith(b"real ")
    srv.close()


def test_over_long_body_closes_the_connection() -> None:
    def script(conn: int, req: int, head: bytes) -> list[tuple[float, bytes]]:
        return [(0, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA-JUNK")]

    srv = Scripted(script)
    t = Transport()
    for _ in range(3):
        r = t.request("http", "127.0.0.1", srv.port, "GET", "/b/k", {"host": "x"})
        assert r.body == b"abc"  # type: ignore[union-attr]
    assert srv.connections == 3  # none of them was reused
    assert t.open_connections() == 0
    srv.close()


def test_failure_mid_send_discards_the_connection() -> None:
    class Boom:
        def __init__(self) -> None:
            self.sent = 0

        def read(self, n: int = -1) -> bytes:
            self.sent += 1
            if self.sent > 2:
                raise OSError("disk vanished")
            return b"x" * 1000

        def seekable(self) -> bool:
            return False

    def script(conn: int, req: int, head: bytes) -> list[tuple[float, bytes]]:
        return [(0, answer(b"ok"))]

    srv = Scripted(script)
    t = Transport()
    t.request("http", "127.0.0.1", srv.port, "GET", "/", {"host": "x"})
    assert t.open_connections() == 1
    with pytest.raises(s3kit.S3Error):
        t.request("http", "127.0.0.1", srv.port, "PUT", "/", {"host": "x", "content-length": "100000"}, Boom())
    assert t.open_connections() == 0
    srv.close()


def test_total_deadline_bounds_a_server_that_never_answers() -> None:
    def script(conn: int, req: int, head: bytes) -> list[tuple[float, bytes]]:
        time.sleep(30)
        return []

    srv = Scripted(script)
    c = client(srv.port, retry=Retry(max_attempts=5, base=0.01),
               timeout=Timeout(connect=1, read=30, total=1.0))
    t0 = time.monotonic()
    with pytest.raises(s3kit.TransportError) as ei:
        c.bucket("b").get("k")
    took = time.monotonic() - t0
    assert took < 2.5, took
    assert isinstance(ei.value, s3kit.OperationTimeout)
    assert not ei.value.retryable
    srv.close()


def test_total_deadline_cuts_backoff_short() -> None:
    def script(conn: int, req: int, head: bytes) -> list[tuple[float, bytes]]:
        return [(0, b"HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n\r\n")]

    srv = Scripted(script)
    c = client(srv.port, retry=Retry(max_attempts=50, base=0.5, cap=5, budget=10_000),
               timeout=Timeout(total=1.0))
    t0 = time.monotonic()
    with pytest.raises(s3kit.S3Error):
        c.bucket("b").get("k")
    assert time.monotonic() - t0 < 2.0
    srv.close()


def test_pool_wait_is_configurable_from_the_client() -> None:
    def script(conn: int, req: int, head: bytes) -> list[tuple[float, bytes]]:
        time.sleep(1.5)
        return [(0, answer(b"ok"))]

    srv = Scripted(script)
    c = client(srv.port, max_connections=1, timeout=Timeout(pool=0.2))
    t = threading.Thread(target=lambda: c.bucket("b").get("k", verify=False))
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    with pytest.raises(s3kit.PoolTimeout):
        c.bucket("b").get("k", verify=False)
    assert time.monotonic() - t0 < 1.0
    t.join()
    srv.close()


def test_timeout_defaults_are_documented() -> None:
    t = Timeout()
    assert (t.connect, t.read, t.total, t.pool) == (5.0, 30.0, None, 60.0)
    assert "worst case" in (Timeout.__doc__ or "").lower()
