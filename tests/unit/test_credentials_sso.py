"""IAM Identity Center (SSO) provider against a scripted portal and OIDC service on loopback."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from s3kit.credentials import SSOProvider
from s3kit.errors import CredentialsError
from tests import credservers
from tests.credservers import FakeSSO, drive, iso, write

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")

START = "https://my-sso-portal.awsapps.com/start"
ACCESS = "sso-access-token-zz-secret"


def cache(home: Path, key: str, doc: dict[str, object]) -> Path:
    p = home / ".aws" / "sso" / "cache" / (hashlib.sha1(key.encode()).hexdigest() + ".json")
    write(p, json.dumps(doc))
    return p


def session_profile(home: Path, profile: str = "dev") -> None:
    write(home / ".aws" / "config",
          f"[profile {profile}]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\n"
          f"region = eu-west-1\n[sso-session corp]\nsso_start_url = {START}\nsso_region = eu-central-1\n"
          "sso_registration_scopes = sso:account:access\n")


def legacy_profile(home: Path) -> None:
    write(home / ".aws" / "config",
          f"[profile old]\nsso_start_url = {START}\nsso_region = us-east-2\nsso_account_id = 444455556666\n"
          "sso_role_name = Admin\n")


@pytest.fixture()
def home(creds_env: dict[str, str]) -> Path:
    return Path(creds_env["HOME"])


def test_not_configured(home: Path) -> None:
    write(home / ".aws" / "config", "[default]\nregion = eu-west-1\n")
    assert drive(SSOProvider().load()) is None


def test_sso_session_profile(home: Path) -> None:
    session_profile(home)
    cache(home, "corp", {"accessToken": ACCESS, "expiresAt": iso(time.time() + 3600), "region": "eu-central-1"})
    with FakeSSO(valid_tokens={ACCESS}) as s:
        p = SSOProvider(profile="dev", endpoint=s.url)
        c = drive(p.load())
        assert c.access_key == "AKIDSSO1" and c.session_token == "TOKEN-sso-1-zz" and c.account_id == "111122223333"
        assert abs(c.expires_at - (time.time() + 3600)) < 5
        (req,) = s.requests
        assert req.path == "/federation/credentials?account_id=111122223333&role_name=ReadOnly"
        assert req.headers["x-amz-sso_bearer_token"] == ACCESS


def test_legacy_profile_and_env_endpoint(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    legacy_profile(home)
    cache(home, START, {"accessToken": ACCESS, "expiresAt": iso(time.time() + 600)})
    with FakeSSO(valid_tokens={ACCESS}) as s:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", s.url)
        c = drive(SSOProvider(profile="old").load())
        assert c.account_id == "444455556666"
        assert "role_name=Admin" in s.requests[0].path


def test_default_portal_host(home: Path, loopback_guard: object) -> None:
    from tests.credservers import NonLoopbackConnection

    legacy_profile(home)
    cache(home, START, {"accessToken": ACCESS, "expiresAt": iso(time.time() + 600)})
    with pytest.raises(NonLoopbackConnection, match="portal.sso.us-east-2.amazonaws.com:443"):
        drive(SSOProvider(profile="old").load())


def test_expired_token_says_run_sso_login(home: Path) -> None:
    session_profile(home)
    cache(home, "corp", {"accessToken": ACCESS, "expiresAt": iso(time.time() - 60)})
    with FakeSSO(valid_tokens={ACCESS}) as s:
        with pytest.raises(CredentialsError) as ei:
            drive(SSOProvider(profile="dev", endpoint=s.url).load())
        assert "aws sso login --profile dev" in str(ei.value) and "expired" in str(ei.value)
        assert s.requests == []  # not even asked


def test_token_rejected_by_portal_says_run_sso_login(home: Path) -> None:
    session_profile(home)
    cache(home, "corp", {"accessToken": "revoked-token-zz", "expiresAt": iso(time.time() + 3600)})
    with FakeSSO(valid_tokens={ACCESS}) as s:
        with pytest.raises(CredentialsError) as ei:
            drive(SSOProvider(profile="dev", endpoint=s.url).load())
        assert "aws sso login --profile dev" in str(ei.value) and "HTTP 401" in str(ei.value)
        assert "revoked-token-zz" not in str(ei.value)


def test_no_cached_token(home: Path) -> None:
    session_profile(home)
    with pytest.raises(CredentialsError, match="no cached SSO token for sso-session 'corp'.*aws sso login"):
        drive(SSOProvider(profile="dev", endpoint="http://127.0.0.1:9").load())


def test_incomplete_profile(home: Path) -> None:
    write(home / ".aws" / "config", "[profile x]\nsso_account_id = 1\nsso_role_name = R\n")
    with pytest.raises(CredentialsError, match="lacks sso_start_url, sso_region"):
        drive(SSOProvider(profile="x").load())
    write(home / ".aws" / "config", "[profile x]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n")
    with pytest.raises(CredentialsError, match=r"no \[sso-session nope\] section"):
        drive(SSOProvider(profile="x").load())


def test_expiring_token_is_renewed_with_the_refresh_token(home: Path) -> None:
    session_profile(home)
    path = cache(home, "corp", {
        "accessToken": "old-access-zz", "expiresAt": iso(time.time() + 120), "refreshToken": "refresh-zz",
        "clientId": "client-id", "clientSecret": "client-secret-zz", "registrationExpiresAt": iso(time.time() + 86400),
        "region": "eu-central-1", "startUrl": START})
    with FakeSSO(valid_tokens=set(), refresh_tokens={"refresh-zz": "new-access-zz"}) as s:
        c = drive(SSOProvider(profile="dev", endpoint=s.url, oidc_endpoint=s.url).load())
        assert c.access_key == "AKIDSSO1"
        assert [(r.method, r.path.split("?")[0]) for r in s.requests] == [("POST", "/token"),
                                                                          ("GET", "/federation/credentials")]
        assert s.requests[1].headers["x-amz-sso_bearer_token"] == "new-access-zz"
    doc = json.loads(path.read_text())
    assert doc["accessToken"] == "new-access-zz" and doc["refreshToken"] == "rotated-refresh-token-zz"
    assert doc["clientSecret"] == "client-secret-zz"
    assert path.stat().st_mode & 0o077 == 0


def test_failed_renewal_of_an_expired_token_says_run_sso_login(home: Path) -> None:
    session_profile(home)
    cache(home, "corp", {
        "accessToken": "old-access-zz", "expiresAt": iso(time.time() - 5), "refreshToken": "stale-refresh-zz",
        "clientId": "client-id", "clientSecret": "client-secret-zz", "registrationExpiresAt": iso(time.time() + 86400)})
    with FakeSSO(valid_tokens=set()) as s:
        with pytest.raises(CredentialsError, match="aws sso login --profile dev") as ei:
            drive(SSOProvider(profile="dev", endpoint=s.url, oidc_endpoint=s.url).load())
        assert "stale-refresh-zz" not in str(ei.value) and "client-secret-zz" not in str(ei.value)
        assert s.count("POST", "/token") == 1


def test_arguments_instead_of_a_profile(tmp_path: Path) -> None:
    cache(tmp_path, START, {"accessToken": ACCESS, "expiresAt": iso(time.time() + 600)})
    with FakeSSO(valid_tokens={ACCESS}) as s:
        p = SSOProvider(start_url=START, sso_region="us-east-1", account_id="1", role_name="R", endpoint=s.url,
                        cache_dir=str(tmp_path / ".aws" / "sso" / "cache"))
        assert drive(p.load()).access_key == "AKIDSSO1"


def test_incomplete_arguments() -> None:
    with pytest.raises(CredentialsError, match="arguments lack region"):
        drive(SSOProvider(start_url=START, account_id="1", role_name="R").load())
