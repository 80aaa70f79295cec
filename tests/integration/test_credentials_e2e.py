"""End to end: credentials from each provider sign requests that an S3 server accepts.

moto accepts any keys, so each test also records the requests the client sent and checks
they were signed with the provider's access key (and carried its session token). Ceph RGW
verifies signatures: the environment, profile, process and static cases run against it,
with a wrong secret as the control that proves it checks."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

import s3kit
from s3kit import S3Client
from s3kit.credentials import Credentials, RefreshingCredentials, default_chain
from tests import credservers
from tests.conftest import unique_bucket_name
from tests.credservers import (
    FakeContainer,
    FakeIMDS,
    FakeSSO,
    drive,
    iso,
    script,
    write,
)

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")


@pytest.fixture()
def home(creds_env: dict[str, str]) -> Path:
    return Path(creds_env["HOME"])


def resolve(**kw: Any) -> tuple[Credentials, str]:
    m = RefreshingCredentials(default_chain(**kw))
    creds = drive(m.current())
    assert m.source is not None
    return creds, m.source


def roundtrip(endpoint: str, creds: Credentials, region: str = "us-east-1") -> list[dict[str, str]]:
    """Create a bucket, put and get an object, delete both; returns the headers sent."""
    seen: list[dict[str, str]] = []
    c = S3Client(endpoint, creds.access_key, creds.secret_key, region, session_token=creds.session_token)
    real = c.transport.request

    def recording(*a: Any, **kw: Any) -> Any:
        headers = kw.get("headers") if "headers" in kw else a[5]
        seen.append(dict(headers))
        return real(*a, **kw)

    c.transport.request = recording  # type: ignore[method-assign]
    name = unique_bucket_name("cred")
    b = c.create_bucket(name)
    try:
        b.put("k", b"signed by the provider")
        assert b.get("k") == b"signed by the provider"
    finally:
        b.delete("k")
        c.delete_bucket(name)
    assert len(seen) >= 4
    for h in seen:
        assert f"Credential={creds.access_key}/" in h["authorization"]
        assert h.get("x-amz-security-token") == creds.session_token
    return seen


# -- moto (accepts any keys: the recorded headers show which were used) ------------------------


def test_env_on_moto(moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-session-token")
    creds, source = resolve()
    assert (source, creds.access_key, creds.session_token) == ("env", "AKIDFROMENV", "env-session-token")
    roundtrip(moto_server.endpoint, creds)


def test_imds_on_moto(moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeIMDS() as imds:
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
        creds, source = resolve()
        assert (source, creds.access_key, creds.session_token) == ("imds", "AKIDIMDS1", "TOKEN-imds-1-zz")
        roundtrip(moto_server.endpoint, creds)


def test_moto_imds_routes(moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto answers the IMDS paths too (fixed role credentials): a second implementation."""
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", moto_server.endpoint + "/")
    creds, source = resolve()
    assert source == "imds" and creds.session_token and creds.expires_at and creds.expires_at > time.time()
    roundtrip(moto_server.endpoint, creds)


def test_container_on_moto(moto_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tok = tmp_path / "pod-identity-token"
    tok.write_text("pod-identity-token-zz")
    with FakeContainer(token=lambda: "pod-identity-token-zz") as ctr:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", ctr.url + "/v1/credentials")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(tok))
        creds, source = resolve()
        assert source == "container" and creds.access_key == "AKIDCTR1"
        roundtrip(moto_server.endpoint, creds)


def test_sso_on_moto(moto_server: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / ".aws" / "config", "[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\n"
          "sso_role_name = Dev\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
          "sso_region = us-east-1\n")
    write(home / ".aws" / "sso" / "cache" / (hashlib.sha1(b"corp").hexdigest() + ".json"),
          json.dumps({"accessToken": "sso-bearer-zz", "expiresAt": iso(time.time() + 3600)}))
    with FakeSSO(valid_tokens={"sso-bearer-zz"}) as sso:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", sso.url)
        creds, source = resolve(profile="sso")
        assert source == "sso" and creds.access_key == "AKIDSSO1"
        roundtrip(moto_server.endpoint, creds)


def test_web_identity_on_moto(moto_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "jwt").write_text("eyJ.irsa-token.sig")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server.endpoint)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "jwt"))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa")
    creds, source = resolve()
    assert source == "web-identity" and creds.access_key.startswith("ASIA") and creds.session_token
    roundtrip(moto_server.endpoint, creds)


def test_assume_role_on_moto(moto_server: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server.endpoint)
    write(home / ".aws" / "config", "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = base\n")
    write(home / ".aws" / "credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n")
    creds, source = resolve(profile="role")
    assert source == "assume-role" and creds.access_key.startswith("ASIA") and creds.session_token
    roundtrip(moto_server.endpoint, creds)


def test_process_on_moto(moto_server: Any, home: Path, tmp_path: Path) -> None:
    exe = script(tmp_path, "p.py", "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'AKIDPROC', "
                 "'SecretAccessKey': 'proc-secret', 'SessionToken': 'proc-token'}))\n")
    write(home / ".aws" / "config", f"[default]\ncredential_process = {exe}\n")
    creds, source = resolve()
    assert (source, creds.access_key, creds.session_token) == ("credential-process", "AKIDPROC", "proc-token")
    roundtrip(moto_server.endpoint, creds)


# -- Ceph RGW (verifies signatures) ------------------------------------------------------------


def test_env_on_ceph(ceph_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ceph_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ceph_server.secret_key)
    creds, source = resolve()
    assert source == "env"
    roundtrip(ceph_server.endpoint, creds)


def test_profile_on_ceph(ceph_server: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / ".aws" / "credentials", f"[ceph]\naws_access_key_id = {ceph_server.access_key}\n"
          f"aws_secret_access_key = {ceph_server.secret_key}\n")
    write(home / ".aws" / "config", f"[profile ceph]\nregion = us-east-1\nendpoint_url = {ceph_server.endpoint}\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDWRONG")  # an explicit profile ignores these
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    chain = default_chain(profile="ceph")
    m = RefreshingCredentials(chain)
    creds = drive(m.current())
    assert m.source == "shared-credentials-file"
    roundtrip(chain.settings()["endpoint_url"], creds)


def test_process_on_ceph(ceph_server: Any, home: Path, tmp_path: Path) -> None:
    exe = script(tmp_path, "p.py", "import json\nprint(json.dumps({'Version': 1, "
                 f"'AccessKeyId': {ceph_server.access_key!r}, 'SecretAccessKey': {ceph_server.secret_key!r}}}))\n")
    write(home / ".aws" / "config", f"[profile p]\ncredential_process = {exe}\n")
    creds, source = resolve(profile="p")
    assert source == "credential-process"
    roundtrip(ceph_server.endpoint, creds)


def test_callback_on_ceph(ceph_server: Any) -> None:
    creds, source = resolve(credentials_provider=lambda: Credentials(ceph_server.access_key, ceph_server.secret_key))
    assert source == "callback"
    roundtrip(ceph_server.endpoint, creds)


def test_ceph_rejects_a_wrong_secret(ceph_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ceph_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ceph_server.secret_key + "x")
    creds, _ = resolve()
    with pytest.raises(s3kit.S3Error):
        roundtrip(ceph_server.endpoint, creds)
