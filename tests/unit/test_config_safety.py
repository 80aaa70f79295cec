"""Regions, IPv6 endpoints, error classes and pickling (issue 10, defects 8-11)."""

from __future__ import annotations

import ast
import io
import pathlib
import pickle
import socket
import urllib.parse

import pytest

import s3kit
from s3kit import Retry, S3Client, Timeout
from tests.fakes import FakeS3, Reply, Req, error_xml

SRC = pathlib.Path(s3kit.__file__).parent

# -- regions (defect 8) ---------------------------------------------------------------------

BAD_REGIONS = ["us-east-1.evil.com#", "us-east-1/x", "US-EAST-1", "eu west", "", "a" * 200, "x\r\ny", "é"]


@pytest.mark.parametrize("region", BAD_REGIONS)
def test_bad_region_argument_is_refused(region: str) -> None:
    with pytest.raises(s3kit.InvalidArgument, match="region"):
        S3Client("http://127.0.0.1:9", "a", "b", region)


def test_bad_region_from_environment_or_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1.evil.com#")
    with pytest.raises(s3kit.InvalidArgument, match="region"):
        S3Client("http://127.0.0.1:9", "a", "b")
    monkeypatch.delenv("AWS_REGION")
    cfg = tmp_path / "config"
    cfg.write_text("[default]\nregion = evil.com/x\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(s3kit.InvalidArgument, match="region"):
        S3Client("http://127.0.0.1:9", "a", "b")


def test_create_bucket_region_is_validated() -> None:
    c = S3Client("http://127.0.0.1:9", "a", "b", retry=Retry(max_attempts=1))
    with pytest.raises(s3kit.InvalidArgument, match="region"):
        c.create_bucket("good-name", region="eu-west-1.evil.com#")


def test_aws_hosts_and_presigned_urls_never_carry_a_foreign_host() -> None:
    c = S3Client(None, "AKID", "SECRET", "eu-west-1")
    url = c.bucket("bkt").presign("k")
    assert urllib.parse.urlsplit(url).hostname == "bkt.s3.eu-west-1.amazonaws.com"


@pytest.mark.parametrize("how", ["xml", "header"])
def test_region_from_a_server_is_validated(how: str) -> None:
    evil = "us-east-1.evil.com#"

    def handler(req: Req) -> Reply:
        if how == "xml":
            return Reply(301, error_xml("PermanentRedirect", "moved", Region=evil))
        return Reply(400, b"", {"x-amz-bucket-region": evil})

    with FakeS3(handler) as fake:
        c = S3Client(fake.endpoint, "a", "b", retry=Retry(max_attempts=1))
        with pytest.raises(s3kit.ProtocolError, match="region"):
            c.bucket("b").get("k")
        assert len(fake.requests) == 1  # never re-signed for (or sent to) the bogus region
        with pytest.raises(s3kit.ProtocolError, match="region"):
            c.bucket_region("b")


def test_bucket_location_answer_is_validated() -> None:
    def handler(req: Req) -> Reply:
        if req.method == "HEAD":
            return Reply(200)
        return Reply(200, b"<LocationConstraint>evil.com/#</LocationConstraint>")

    with FakeS3(handler) as fake:
        c = S3Client(fake.endpoint, "a", "b", retry=Retry(max_attempts=1))
        with pytest.raises(s3kit.ProtocolError, match="region"):
            c.bucket_region("b")


# -- IPv6 endpoints (defect 9) --------------------------------------------------------------


def test_ipv6_host_header_and_presigned_url() -> None:
    c = S3Client("http://[::1]:9000", "AKID", "SECRET")
    url = c.bucket("b").presign("k")
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "::1" and parts.port == 9000 and parts.netloc == "[::1]:9000"
    assert url.startswith("http://[::1]:9000/b/k?")
    https = S3Client("[2001:db8::5]", "AKID", "SECRET")
    assert https.bucket("b").presign("k").startswith("https://[2001:db8::5]/b/k?")


@pytest.mark.parametrize("endpoint", ["http://[::1", "http://[::1]x", "http://[::1]:", "http://[zz::1]:80",
                                      "http://::1:9000", "http://[127.0.0.1]:80", "http://[::1]:99999",
                                      "http://[fe80::1%eth0]:80", "http://h:80:90", "http://ho st:80"])
def test_malformed_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(s3kit.InvalidArgument):
        S3Client(endpoint, "a", "b")


def _v6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _v6_available(), reason="no IPv6 loopback")
def test_requests_to_an_ipv6_endpoint_carry_a_bracketed_host() -> None:
    from tests.unit.test_hostile_transport import Scripted, answer

    seen: list[bytes] = []

    def script(conn: int, req: int, head: bytes) -> list[tuple[float, bytes]]:
        seen.append(head)
        return [(0, answer(b"v6"))]

    srv = Scripted(script, family=socket.AF_INET6)
    c = S3Client(f"http://[::1]:{srv.port}", "a", "b")
    assert c.bucket("b").get("k", verify=False) == b"v6"
    assert f"host: [::1]:{srv.port}\r\n".encode() in seen[0].lower()
    srv.close()


# -- error classes (defect 10) --------------------------------------------------------------


def test_text_stream_raises_invalid_type_class() -> None:
    c = S3Client("http://127.0.0.1:9", "a", "b", retry=Retry(max_attempts=1))
    with pytest.raises(s3kit.InvalidType) as ei:
        c.bucket("b").put("k", io.StringIO("text"))  # type: ignore[arg-type]
    assert type(ei.value) is s3kit.InvalidType
    with pytest.raises(s3kit.InvalidType):
        c.bucket("b").upload_fileobj(io.StringIO("x" * 10), "k")  # type: ignore[arg-type]


def test_no_base_s3error_raised_for_local_conditions() -> None:
    """Every ``raise`` in the library names a specific subclass: the base class is only
    built by ``error_for`` for server codes s3kit has no class for."""
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "S3Error":
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = getattr(exc, "id", None) or getattr(exc, "attr", None)
                if name in ("ValueError", "TypeError", "RuntimeError", "Exception", "KeyError", "OSError"):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} raises {name}")
    allowed = {"errors.py"}
    offenders = [o for o in offenders if o.split(":")[0] not in allowed]
    assert not offenders, offenders


def test_retry_and_timeout_arguments_raise_library_errors() -> None:
    with pytest.raises(s3kit.InvalidArgument):
        Retry(max_attempts=0)
    with pytest.raises(s3kit.InvalidArgument):
        Timeout(connect=-1)
    with pytest.raises(s3kit.InvalidType):
        S3Client("http://127.0.0.1:9", "a", "b", timeout="soon")  # type: ignore[arg-type]


# -- pickling (defect 11) -------------------------------------------------------------------


def test_client_and_bucket_pickle_as_configuration() -> None:
    c = S3Client("http://127.0.0.1:9", "AKID", "SECRETKEY", "eu-west-1", addressing="path",
                 timeout=Timeout(connect=2, read=7, total=30, pool=3), retry=Retry(max_attempts=3),
                 max_connections=9)
    c2 = pickle.loads(pickle.dumps(c))
    assert (c2.endpoint, c2.region, c2.addressing) == (c.endpoint, c.region, c.addressing)
    assert c2.timeout == c.timeout and c2.retry.max_attempts == 3 and c2.max_connections == 9
    assert c2.credentials.access_key == "AKID" and c2.credentials.secret_key == "SECRETKEY"
    b = pickle.loads(pickle.dumps(c.bucket("photos")))
    assert b.name == "photos" and b.client.endpoint == c.endpoint


def test_pickle_of_environment_credentials_carries_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVKEYID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET-do-not-pickle")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "ENVTOKEN-do-not-pickle")
    c = S3Client("http://127.0.0.1:9")
    data = pickle.dumps(c)
    assert b"ENVSECRET" not in data and b"ENVTOKEN" not in data
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ROTATED")
    assert pickle.loads(data).credentials.secret_key == "ROTATED"  # resolved again where unpickled


def test_pickled_client_works_after_use() -> None:
    with FakeS3(lambda req: Reply(200, b"hello")) as fake:
        c = S3Client(fake.endpoint, "a", "b")
        assert c.bucket("b").get("k", verify=False) == b"hello"  # live sockets in the pool
        c2 = pickle.loads(pickle.dumps(c))
        assert c2.bucket("b").get("k", verify=False) == b"hello"
        assert c2.transport.open_connections() == 1 and c2.transport is not c.transport
