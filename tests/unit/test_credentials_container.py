"""ECS / EKS Pod Identity container credentials against a scripted endpoint on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from s3kit.credentials import ContainerProvider
from s3kit.errors import CredentialsError
from tests import credservers
from tests.credservers import FakeContainer, closed_port_url, drive

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")


def test_not_configured() -> None:
    assert drive(ContainerProvider({}).load()) is None


def test_relative_uri_without_token() -> None:
    with FakeContainer() as s:
        p = ContainerProvider({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc-123"},
                              relative_base=s.url)
        c = drive(p.load())
        assert c.access_key == "AKIDCTR1" and c.session_token == "TOKEN-ctr-1-zz"
        assert c.expires_at and c.expires_at > time.time() + 3600
        (req,) = s.requests
        assert req.path == "/v2/credentials/abc-123" and "authorization" not in req.headers
        assert req.headers["accept"] == "application/json"


def test_full_uri_with_token_env() -> None:
    with FakeContainer(token=lambda: "Bearer-abc-secret-tok", account="123456789012") as s:
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/creds?x=1",
               "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer-abc-secret-tok"}
        c = drive(ContainerProvider(env).load())
        assert c.access_key == "AKIDCTR1" and c.account_id == "123456789012"
        assert s.requests[0].path == "/creds?x=1"
        assert s.requests[0].headers["authorization"] == "Bearer-abc-secret-tok"


def test_token_file_is_reread_on_every_fetch(tmp_path: Path) -> None:
    tok = tmp_path / "token"
    tok.write_text("eks-token-one\n")
    current = {"t": "eks-token-one"}
    with FakeContainer(token=lambda: current["t"]) as s:
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/v1/credentials",
               "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(tok),
               "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored-when-a-file-is-set"}
        p = ContainerProvider(env)
        assert drive(p.load()).access_key == "AKIDCTR1"
        tok.write_text("eks-token-two")  # EKS rotated it
        current["t"] = "eks-token-two"
        assert drive(p.load()).access_key == "AKIDCTR2"
        assert [r.headers["authorization"] for r in s.requests] == ["eks-token-one", "eks-token-two"]


def test_wrong_token_fails_after_attempts_naming_the_provider() -> None:
    with FakeContainer(token=lambda: "right") as s:
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/c", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong-secret"}
        with pytest.raises(CredentialsError) as ei:
            drive(ContainerProvider(env, retry_sleep=0.01).load())
        msg = str(ei.value)
        assert msg.startswith("MissingCredentials: container:") and "HTTP 403" in msg and "3 attempts" in msg
        assert "wrong-secret" not in msg
        assert len(s.requests) == 3


def test_retries_transient_errors() -> None:
    with FakeContainer(fail_first=2) as s:
        p = ContainerProvider({"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/c"}, retry_sleep=0.01)
        assert drive(p.load()).access_key == "AKIDCTR1"
        assert len(s.requests) == 3


def test_unreachable() -> None:
    p = ContainerProvider({"AWS_CONTAINER_CREDENTIALS_FULL_URI": closed_port_url() + "/c"}, retry_sleep=0.01)
    with pytest.raises(CredentialsError, match="container: no credentials from .* cannot connect"):
        drive(p.load())


@pytest.mark.parametrize("url", ["http://example.com/creds", "http://10.0.0.1/creds", "http://169.254.169.254/x",
                                 "ftp://127.0.0.1/x"])
def test_full_uri_host_restrictions(url: str) -> None:
    with pytest.raises(CredentialsError, match="container: .*(must be https|invalid URL)"):
        drive(ContainerProvider({"AWS_CONTAINER_CREDENTIALS_FULL_URI": url}).load())


@pytest.mark.parametrize("url", ["https://example.com/creds", "http://169.254.170.23/v1/credentials",
                                 "http://[fd00:ec2::23]/v1/credentials", "http://localhost:1/x"])
def test_full_uri_allowed_hosts(url: str, loopback_guard: object) -> None:
    from tests.credservers import NonLoopbackConnection

    p = ContainerProvider({"AWS_CONTAINER_CREDENTIALS_FULL_URI": url}, attempts=1)
    try:
        drive(p.load())
    except NonLoopbackConnection:  # accepted, and stopped by the guard before leaving the machine
        pass
    except CredentialsError as e:
        assert "must be https" not in str(e)


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: 1", "abc\ndef"])
def test_token_with_line_break_is_refused(token: str, tmp_path: Path) -> None:
    with FakeContainer() as s:
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/c", "AWS_CONTAINER_AUTHORIZATION_TOKEN": token}
        with pytest.raises(CredentialsError, match="line break"):
            drive(ContainerProvider(env).load())
        f = tmp_path / "t"
        f.write_text(token)
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/c", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(f)}
        with pytest.raises(CredentialsError, match="line break"):
            drive(ContainerProvider(env).load())
        assert s.requests == []


def test_missing_token_file(tmp_path: Path) -> None:
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/c",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(tmp_path / "nope")}
    with pytest.raises(CredentialsError, match="cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
        drive(ContainerProvider(env).load())
