"""The HTTP/1.1 exchange: framing variants, connection reuse, injection guards, proxies."""

from __future__ import annotations

import socket
import threading

import pytest

import s3kit
from s3kit import Retry, S3Client
from s3kit.transport import Timeout, Transport, _proxy_for
from tests.fakes import FakeS3, Reply, Req


class RawServer:
    """Answers each request on a connection with the next scripted raw bytes."""

    def __init__(self, answers: list[bytes], close_after: bool = False) -> None:
        self.answers = answers
        self.close_after = close_after
        self.connections = 0
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    @property
    def port(self) -> int:
        return self.srv.getsockname()[1]

    def run(self) -> None:
        while self.answers:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.connections += 1
            with c, c.makefile("rb") as f:
                while self.answers:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = f.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    c.sendall(self.answers.pop(0))
                    if self.close_after:
                        break


def get(t: Transport, port: int, **kw: object):  # type: ignore[no-untyped-def]
    return t.request("http", "127.0.0.1", port, "GET", "/b/k", {"host": "x"}, **kw)  # type: ignore[arg-type]


def test_chunked_and_reuse() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Multi: a\r\nX-Multi: b\r\n\r\nabc"
    srv = RawServer([chunked, plain])
    t = Transport()
    r1 = get(t, srv.port)
    assert r1.body == b"hello world"
    r2 = get(t, srv.port)
    assert r2.body == b"abc" and r2.headers["x-multi"] == "a, b"
    assert srv.connections == 1  # kept alive across both


def test_streaming_chunked_body() -> None:
    srv = RawServer([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"])
    body = get(Transport(), srv.port, stream=True)
    out = b""
    while True:
        chunk = body.read(2)
        if not chunk:
            break
        out += chunk
    assert out == b"abcde"


def test_http10_and_read_until_close() -> None:
    srv = RawServer([b"HTTP/1.0 200 OK\r\n\r\nuntil close"], close_after=True)
    t = Transport()
    assert get(t, srv.port).body == b"until close"
    assert t.open_connections() == 0  # not reused


def test_short_body_is_an_error_not_data() -> None:
    srv = RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], close_after=True)
    with pytest.raises(s3kit.IncompleteBody):
        get(Transport(), srv.port)
    srv2 = RawServer([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], close_after=True)
    with pytest.raises(s3kit.IncompleteBody):
        get(Transport(), srv2.port)


def test_stale_keepalive_connection_is_retried_once() -> None:
    srv = RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"],
                    close_after=True)  # closes after each answer, without saying so
    t = Transport()
    assert get(t, srv.port).body == b"a"
    assert get(t, srv.port).body == b"b"  # the pooled socket was dead: reconnected
    assert srv.connections == 2


def test_header_injection_is_refused() -> None:
    c = S3Client("http://127.0.0.1:9", "a", "b")
    with pytest.raises(s3kit.InvalidArgument):
        c.bucket("b").put("k", b"x", content_type="text/plain\r\nX-Evil: 1")
    with pytest.raises(s3kit.InvalidArgument):
        c.bucket("b").put("k", b"x", metadata={"bad name": "v"})


def test_pool_is_bounded_and_waits() -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    t = Transport(maxsize=1, timeout=Timeout(1, 1, pool=0.2))
    pool = t._pool(("http", "127.0.0.1", srv.getsockname()[1]))
    assert pool.take(t.pool_wait, None) is None  # reserves the only slot
    with pytest.raises(s3kit.TransportError, match="pool exhausted"):
        pool.take(t.pool_wait, None)
    pool.discard(None)
    assert t.open_connections() == 0
    srv.close()


def test_proxy_environment() -> None:
    env = {"HTTPS_PROXY": "http://proxy.local:3128", "NO_PROXY": "localhost,.internal, 127.0.0.1"}
    assert _proxy_for("https", "s3.amazonaws.com", env) == ("proxy.local", 3128)
    assert _proxy_for("https", "a.b.internal", env) is None
    assert _proxy_for("https", "127.0.0.1", env) is None
    assert _proxy_for("http", "s3.amazonaws.com", env) is None  # no HTTP_PROXY set
    assert _proxy_for("http", "x", {"http_proxy": "user:pw@p:8080"}) == ("p", 8080)
    assert _proxy_for("http", "x", {"http_proxy": "p", "no_proxy": "*"}) is None


def test_http_proxy_gets_absolute_form_requests() -> None:
    def handler(req: Req) -> Reply:
        return Reply(200, b"via proxy")

    with FakeS3(handler) as proxy:
        port = proxy.server.server_address[1]
        env = {"HTTP_PROXY": f"http://127.0.0.1:{port}"}
        t = Transport(env=env)
        r = t.request("http", "origin.example", 9000, "GET", "/b/k", {"host": "origin.example:9000"})
        assert r.body == b"via proxy"
        req = proxy.requests[0]
        assert req.path == "http://origin.example:9000/b/k" and req.headers["host"] == "origin.example:9000"


def test_max_connections_respected_by_client() -> None:
    with FakeS3(lambda req: Reply(200, b"x")) as fake:
        c = S3Client(fake.endpoint, "a", "b", max_connections=3, retry=Retry(max_attempts=1))
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(12) as ex:
            list(ex.map(lambda i: c.bucket("b").get("k", verify=False), range(60)))
        assert c.transport.open_connections() <= 3
