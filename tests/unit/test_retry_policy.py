"""The retry policy (pure) and the request loop's retry behaviour against a scripted server."""

from __future__ import annotations

import io
import logging
import socket
import ssl
import subprocess
import threading
import time
from email.utils import formatdate
from pathlib import Path

import pytest

import s3kit
from s3kit import Credentials, Retry, S3Client, Timeout
from s3kit.engine import S3Request
from s3kit.errors import error_for
from tests.fakes import FakeS3, Reply, Req, error_xml


def fast(**kw: object) -> Retry:
    return Retry(base=0.001, **kw)  # type: ignore[arg-type]


def test_backoff_is_capped_full_jitter() -> None:
    r = Retry(base=0.05, cap=20.0, rng=lambda: 1.0)
    assert [r.delay(n) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert r.delay(30) == 20.0
    assert Retry(rng=lambda: 0.0).delay(5) == 0.0


def test_budget_stops_retry_storms() -> None:
    r = Retry(max_attempts=5, budget=12, retry_cost=5)
    e = error_for(503, "SlowDown", "")
    assert r.should_retry(e, 1) and r.should_retry(e, 1)
    assert not r.should_retry(e, 1)  # 2 tokens left < 5
    for _ in range(10):
        r.on_success()
    assert r.tokens == 12 and r.should_retry(e, 1)


def test_what_is_retried() -> None:
    r = Retry()
    assert r.should_retry(error_for(500, None, ""), 1)
    assert r.should_retry(s3kit.ReadTimeout("x", retryable=True), 1)
    assert not r.should_retry(error_for(400, "InvalidArgument", ""), 1)
    assert not r.should_retry(error_for(404, "NoSuchKey", ""), 1)
    assert not r.should_retry(error_for(503, "SlowDown", ""), 5)  # attempts exhausted
    assert not Retry(max_attempts=1).should_retry(error_for(503, "SlowDown", ""), 1)


def sequence(*replies: Reply):  # type: ignore[no-untyped-def]
    items = list(replies)
    return lambda req: items.pop(0) if len(items) > 1 else items[0]


@pytest.mark.parametrize("status,code", [(503, "SlowDown"), (500, "InternalError"), (502, None),
                                         (504, None), (429, None), (400, "RequestTimeout"),
                                         (503, "ServiceUnavailable")])
def test_transient_errors_are_retried(status: int, code: str | None) -> None:
    body = error_xml(code) if code else b""
    with FakeS3(sequence(Reply(status, body), Reply(status, body), Reply(200, b"ok"))) as fake:
        c = S3Client(fake.endpoint, "a", "b", retry=fast())
        assert c.bucket("b").get("k", verify=False) == b"ok"
        assert len(fake.requests) == 3


def test_client_errors_are_not_retried_and_max_attempts_one_disables() -> None:
    with FakeS3(lambda req: Reply(403, error_xml("AccessDenied", "no"))) as fake:
        with pytest.raises(s3kit.AccessDenied):
            S3Client(fake.endpoint, "a", "b", retry=fast()).bucket("b").get("k")
        assert len(fake.requests) == 1
    with FakeS3(lambda req: Reply(503, error_xml("SlowDown"))) as fake:
        with pytest.raises(s3kit.S3Error) as ei:
            S3Client(fake.endpoint, "a", "b", retry=Retry(max_attempts=1)).bucket("b").get("k")
        assert ei.value.code == "SlowDown" and ei.value.status == 503 and len(fake.requests) == 1
    with FakeS3(lambda req: Reply(503, error_xml("SlowDown"))) as fake:
        with pytest.raises(s3kit.S3Error):
            S3Client(fake.endpoint, "a", "b", retry=fast(max_attempts=5)).bucket("b").get("k")
        assert len(fake.requests) == 5


def test_retries_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with FakeS3(sequence(Reply(503, error_xml("SlowDown")), Reply(200, b"x"))) as fake:
        with caplog.at_level(logging.DEBUG, logger="s3kit"):
            S3Client(fake.endpoint, "a", "b", retry=fast()).bucket("b").get("k", verify=False)
    (rec,) = [r for r in caplog.records if "retry" in r.getMessage()]
    assert rec.levelno == logging.DEBUG and rec.name == "s3kit"
    assert "retry 1" in rec.getMessage() and "SlowDown" in rec.getMessage()


def test_clock_skew_is_corrected_from_date_header() -> None:
    server_time = time.time() + 3600

    def handler(req: Req) -> Reply:
        amz = req.headers["x-amz-date"]
        sent = time.mktime(time.strptime(amz, "%Y%m%dT%H%M%SZ")) - time.timezone
        if abs(sent - server_time) > 300:
            return Reply(403, error_xml("RequestTimeTooSkewed", "fix your clock"),
                         {"Date": formatdate(server_time, usegmt=True)})
        return Reply(200, b"ok")

    with FakeS3(handler) as fake:
        c = S3Client(fake.endpoint, "a", "b", retry=fast())
        assert c.bucket("b").get("k", verify=False) == b"ok"
        assert len(fake.requests) == 2 and abs(c._engine.clock_skew - 3600) < 5
        c.bucket("b").get("k", verify=False)
        assert len(fake.requests) == 3  # later requests use the corrected clock


def test_expired_token_refreshes_only_with_a_provider() -> None:
    issued = []

    def provider() -> Credentials:
        issued.append(1)
        return Credentials("AK", "SK", f"token-{len(issued)}")

    def handler(req: Req) -> Reply:
        if req.headers.get("x-amz-security-token") == "token-1":
            return Reply(400, error_xml("ExpiredToken", "expired"))
        return Reply(200, b"ok")

    with FakeS3(handler) as fake:
        c = S3Client(fake.endpoint, credentials_provider=provider, retry=fast())
        assert c.bucket("b").get("k", verify=False) == b"ok" and len(issued) == 2
    with FakeS3(lambda req: Reply(400, error_xml("ExpiredToken", "expired"))) as fake:
        with pytest.raises(s3kit.S3Error) as ei:
            S3Client(fake.endpoint, "a", "b", session_token="t", retry=fast()).bucket("b").get("k")
        assert ei.value.code == "ExpiredToken" and len(fake.requests) == 1


def test_one_shot_stream_is_not_retried_and_says_why() -> None:
    class OneShot(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b):  # type: ignore[no-untyped-def]
            return 0

    with FakeS3(lambda req: Reply(503, error_xml("SlowDown"))) as fake:
        c = S3Client(fake.endpoint, "a", "b", retry=fast())
        with pytest.raises(s3kit.S3Error, match="one-shot stream"):
            c._run(c._engine.send(S3Request("PUT", "b", "k", body=OneShot(), length=0)))
        assert len(fake.requests) == 1
    seekable = io.BytesIO(b"hello")
    with FakeS3(sequence(Reply(503, error_xml("SlowDown")), Reply(200))) as fake:
        c = S3Client(fake.endpoint, "a", "b", retry=fast())
        c._run(c._engine.send(S3Request("PUT", "b", "k", body=seekable, length=5)))
        assert [r.body for r in fake.requests] == [b"hello", b"hello"]  # rewound


def test_connection_refused_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    c = S3Client(f"http://127.0.0.1:{port}", "a", "b", retry=fast(max_attempts=3))
    t = time.monotonic()
    with pytest.raises(s3kit.TransportError) as ei:
        c.bucket("b").get("k")
    assert "refused" in str(ei.value).lower() and time.monotonic() - t < 5
    assert c.retry.retries == 2


def stalling_server(send_headers: bool):  # type: ignore[no-untyped-def]
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def run() -> None:
        conns = []
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            conns.append(c)
            c.recv(65536)
            if send_headers:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        for c in conns:
            c.close()

    threading.Thread(target=run, daemon=True).start()
    return srv, stop


@pytest.mark.parametrize("send_headers", [False, True], ids=["no-answer", "stalled-body"])
def test_read_timeout(send_headers: bool) -> None:
    srv, stop = stalling_server(send_headers)
    try:
        c = S3Client(f"http://127.0.0.1:{srv.getsockname()[1]}", "a", "b",
                     timeout=Timeout(connect=1, read=0.3), retry=fast(max_attempts=2))
        t = time.monotonic()
        with pytest.raises(s3kit.ReadTimeout):
            c.bucket("b").get("k")
        assert time.monotonic() - t < 3
    finally:
        stop.set()
        srv.close()


def test_default_timeouts_fail_fast() -> None:
    t = S3Client("http://127.0.0.1:9", "a", "b").transport.timeout
    assert t.connect <= 10 and t.read <= 60


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def test_tls_verified_by_default(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    with FakeS3(lambda req: Reply(200, b"secure"), tls_context=ctx) as fake:
        assert fake.endpoint.startswith("https://")
        with pytest.raises(s3kit.TransportError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            S3Client(fake.endpoint, "a", "b", retry=Retry(max_attempts=1)).bucket("b").get("k")
        ok = S3Client(fake.endpoint, "a", "b", verify=str(cert))
        assert ok.bucket("b").get("k", verify=False) == b"secure"
        assert "content-md5" not in fake.requests[-1].headers  # GET: no body
        ok.bucket("b").put("k", b"data")
        put = fake.requests[-1]
        assert put.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD" and "content-md5" in put.headers
        insecure = S3Client(fake.endpoint, "a", "b", verify=False)
        assert insecure.bucket("b").get("k", verify=False) == b"secure"


def test_presign_expiry_bounds() -> None:
    b = S3Client("http://127.0.0.1:9", "a", "b").bucket("bk")
    assert "X-Amz-Expires=1&" in b.presign("k", expires=1)
    assert "X-Amz-Expires=604800&" in b.presign("k", expires=604800)
    for bad in (0, -1, 604801):
        with pytest.raises(s3kit.InvalidArgument):
            b.presign("k", expires=bad)
    with pytest.raises(s3kit.InvalidType):
        b.presign("k", expires=1.5)  # type: ignore[arg-type]


def test_https_proxy_connect_tunnel(self_signed: tuple[Path, Path]) -> None:
    """HTTPS_PROXY: a CONNECT tunnel, with the origin's certificate still verified."""
    cert, key = self_signed
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    tunnels: list[bytes] = []
    proxy = socket.create_server(("127.0.0.1", 0))

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            b.close()

    def serve() -> None:
        while True:
            try:
                c, _ = proxy.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += c.recv(4096)
            tunnels.append(head.split(b"\r\n")[0])
            host, port = head.split()[1].decode().rsplit(":", 1)
            up = socket.create_connection((host, int(port)))
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pipe, args=(c, up), daemon=True).start()
            threading.Thread(target=pipe, args=(up, c), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with FakeS3(lambda req: Reply(200, b"through the tunnel"), tls_context=ctx) as fake:
            port = fake.server.server_address[1]
            os_env = {"HTTPS_PROXY": f"http://127.0.0.1:{proxy.getsockname()[1]}"}
            c = S3Client(fake.endpoint, "a", "b", verify=str(cert))
            c.transport._env = os_env  # as if exported in the environment
            assert c.bucket("b").get("k", verify=False) == b"through the tunnel"
            assert [t.rsplit(b" ", 1)[0] for t in tunnels] == [f"CONNECT 127.0.0.1:{port}".encode()]
            c2 = S3Client(fake.endpoint, "a", "b", verify=str(cert))
            c2.transport._env = {**os_env, "NO_PROXY": "127.0.0.1"}
            c2.bucket("b").get("k", verify=False)
            assert len(tunnels) == 1  # NO_PROXY: straight to the origin
    finally:
        proxy.close()
