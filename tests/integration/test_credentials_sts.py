"""Assume-role and web identity: against moto's STS (the real protocol) and a scripted STS
that checks SigV4 signatures with botocore and records what was sent. Loopback only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from s3kit.credentials import (
    AssumeRoleProvider,
    Credentials,
    EnvProvider,
    RefreshingCredentials,
    StaticProvider,
    WebIdentityProvider,
    default_chain,
)
from s3kit.errors import CredentialsError
from tests import credservers
from tests.credservers import FakeSTS, NonLoopbackConnection, drive, write

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")

ROLE = "arn:aws:iam::123456789012:role/test-role"


@pytest.fixture()
def home(creds_env: dict[str, str]) -> Path:
    return Path(creds_env["HOME"])


def jwt(tmp_path: Path, text: str = "eyJhbGciOiJSUzI1NiJ9.web-identity-token-zz.sig") -> Path:
    p = tmp_path / "token"
    p.write_text(text + "\n")
    return p


# -- moto --------------------------------------------------------------------------------------


def test_web_identity_env_against_moto(moto_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server.endpoint)  # type: ignore[attr-defined]
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(jwt(tmp_path)))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "ci-run-42")
    creds, provider = drive(default_chain().load())
    assert provider.name == "web-identity"
    assert creds.access_key.startswith("ASIA") and creds.session_token and creds.secret_key
    assert creds.expires_at and creds.expires_at > time.time() + 600
    assert creds.account_id == "123456789012"


def test_assume_role_profile_against_moto(moto_server: object, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server.endpoint)  # type: ignore[attr-defined]
    write(home / ".aws" / "config", f"[profile role]\nrole_arn = {ROLE}\nsource_profile = base\n"
          "role_session_name = me\nexternal_id = ext-1\nduration_seconds = 900\n")
    write(home / ".aws" / "credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n")
    creds, provider = drive(default_chain(profile="role").load())
    assert provider.name == "assume-role" and creds.access_key.startswith("ASIA")
    assert creds.account_id == "123456789012"


def test_chained_roles_against_moto(moto_server: object, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)  # the generic variable applies to STS too
    write(home / ".aws" / "config",
          f"[profile a]\nrole_arn = {ROLE}-a\nsource_profile = b\n[profile b]\nrole_arn = {ROLE}-b\nsource_profile = c\n")
    write(home / ".aws" / "credentials", "[c]\naws_access_key_id = AKIDC\naws_secret_access_key = c-secret\n")
    m = RefreshingCredentials(default_chain(profile="a"))
    c = drive(m.current())
    assert m.source == "assume-role" and c.access_key.startswith("ASIA")


# -- scripted STS --------------------------------------------------------------------------


def test_assume_role_is_signed_with_the_source_credentials(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSTS(secrets={"AKIDBASE": "base-secret"}) as s:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s.url)
        write(home / ".aws" / "config", f"[profile role]\nrole_arn = {ROLE}\nsource_profile = base\n"
              "role_session_name = me\nexternal_id = ext-1\nduration_seconds = 900\n")
        write(home / ".aws" / "credentials",
              "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\naws_session_token = base-tok\n")
        s.secrets["AKIDBASE"] = "base-secret"
        creds, _ = drive(default_chain(profile="role").load())
        assert creds.access_key == "AKIDSTS1" and creds.account_id == "123456789012"
        (form,) = s.calls
        assert form == {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": ROLE, "RoleSessionName": "me",
                        "ExternalId": "ext-1", "DurationSeconds": "900"}
        assert s.signed_with == ["AKIDBASE"]
        assert s.requests[0].headers["x-amz-security-token"] == "base-tok"
        assert "/us-east-1/sts/aws4_request" in s.requests[0].headers["authorization"]


def test_a_wrong_signature_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSTS(secrets={"AKIDBASE": "the-real-secret"}) as s:  # proves the check above can fail
        p = AssumeRoleProvider(ROLE, StaticProvider(Credentials("AKIDBASE", "a-wrong-secret")), endpoint=s.url)
        with pytest.raises(CredentialsError, match="assume-role: STS AssumeRole .* HTTP 403 SignatureDoesNotMatch"):
            drive(p.load())


def test_chained_roles_sign_with_the_previous_roles_credentials(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSTS(secrets={"AKIDC": "c-secret"}) as s:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s.url)
        write(home / ".aws" / "config", f"[profile a]\nrole_arn = {ROLE}-a\nsource_profile = b\nregion = eu-west-1\n"
              f"[profile b]\nrole_arn = {ROLE}-b\nsource_profile = c\n")
        write(home / ".aws" / "credentials", "[c]\naws_access_key_id = AKIDC\naws_secret_access_key = c-secret\n")
        p = AssumeRoleProvider(profile="a")
        assert drive(p.load()).access_key == "AKIDSTS2"
        assert [c["RoleArn"] for c in s.calls] == [f"{ROLE}-b", f"{ROLE}-a"]
        assert s.signed_with == ["AKIDC", "AKIDSTS1"]
        assert "/eu-west-1/sts/" in s.requests[1].headers["authorization"]  # the active profile's region
        # a refresh re-assumes the outer role with the cached inner credentials
        assert drive(p.load()).access_key == "AKIDSTS3" and s.signed_with[-1] == "AKIDSTS1"


def test_self_referencing_profile_with_static_keys(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSTS(secrets={"AKIDSELF": "self-secret"}) as s:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s.url)
        write(home / ".aws" / "credentials", f"[me]\naws_access_key_id = AKIDSELF\naws_secret_access_key = self-secret\n"
              f"role_arn = {ROLE}\nsource_profile = me\n")
        creds, provider = drive(default_chain(profile="me").load())
        assert provider.name == "assume-role" and s.signed_with == ["AKIDSELF"]


def test_credential_source_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSTS(secrets={"AKIDENV": "env-secret"}) as s:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
        write(home / ".aws" / "config", f"[profile r]\nrole_arn = {ROLE}\ncredential_source = Environment\n")
        creds, provider = drive(default_chain(profile="r").load())
        assert provider.name == "assume-role" and s.signed_with == ["AKIDENV"]


@pytest.mark.parametrize("config,match", [
    (f"[profile r]\nrole_arn = {ROLE}\n", "neither source_profile nor credential_source"),
    (f"[profile r]\nrole_arn = {ROLE}\nsource_profile = s\ncredential_source = Environment\n[profile s]\n", "both"),
    (f"[profile r]\nrole_arn = {ROLE}\nsource_profile = missing\n", "source_profile 'missing' .* does not exist"),
    (f"[profile r]\nrole_arn = {ROLE}\ncredential_source = Vault\n", "credential_source 'Vault'"),
    (f"[profile r]\nrole_arn = {ROLE}\nsource_profile = s\n[profile s]\nrole_arn = {ROLE}\nsource_profile = r\n",
     "source_profile loop: r -> s -> r"),
    (f"[profile r]\nrole_arn = {ROLE}\nsource_profile = r\n", "source_profile loop: r -> r"),
    (f"[profile r]\nrole_arn = {ROLE}\nsource_profile = s\n[profile s]\nregion = x\n", "no source credentials"),
])
def test_bad_role_configurations(home: Path, config: str, match: str) -> None:
    write(home / ".aws" / "config", config)
    with pytest.raises(CredentialsError, match=match):
        drive(default_chain(profile="r").load())


def test_mfa_prompts_only_when_asked(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return "123456"

    with FakeSTS(secrets={"AKIDBASE": "base-secret"}) as s:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s.url)
        write(home / ".aws" / "credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n")
        write(home / ".aws" / "config", f"[profile mfa]\nrole_arn = {ROLE}\nsource_profile = base\n"
              "mfa_serial = arn:aws:iam::123456789012:mfa/me\n[profile plain]\n"
              f"role_arn = {ROLE}\nsource_profile = base\n")
        chain = default_chain(profile="mfa", mfa_prompt=prompt)
        assert prompts == []  # nothing at construction
        drive(chain.load())
        assert prompts == ["Enter MFA code for arn:aws:iam::123456789012:mfa/me: "]
        assert s.calls[0]["SerialNumber"] == "arn:aws:iam::123456789012:mfa/me" and s.calls[0]["TokenCode"] == "123456"
        drive(default_chain(profile="plain", mfa_prompt=prompt).load())
        assert len(prompts) == 1 and "TokenCode" not in s.calls[1]


def test_web_identity_token_file_is_reread_on_every_refresh(tmp_path: Path) -> None:
    tok = jwt(tmp_path, "token-one")
    with FakeSTS(lifetime=0.5) as s:
        p = WebIdentityProvider(ROLE, str(tok), endpoint=s.url)
        m = RefreshingCredentials(p, advisory_window=2, mandatory_window=1, retry_interval=0)
        assert drive(m.current()).access_key == "AKIDSTS1"
        tok.write_text("token-two")
        assert drive(m.current()).access_key == "AKIDSTS2"
        assert [c["WebIdentityToken"] for c in s.calls] == ["token-one", "token-two"]
        assert s.signed_with == [None, None]  # unsigned
        assert s.calls[0]["RoleSessionName"].startswith("s3kit-session-")


def test_web_identity_from_profile_and_explicit_profile_ignores_env(tmp_path: Path, home: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSTS() as s:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s.url)
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(jwt(tmp_path, "env-token")))
        monkeypatch.setenv("AWS_ROLE_ARN", ROLE + "-env")
        other = tmp_path / "other"
        other.write_text("profile-token")
        write(home / ".aws" / "config", f"[profile w]\nweb_identity_token_file = {other}\nrole_arn = {ROLE}-profile\n")
        drive(default_chain(profile="w").load())
        assert s.calls[-1]["RoleArn"] == ROLE + "-profile" and s.calls[-1]["WebIdentityToken"] == "profile-token"
        monkeypatch.setenv("AWS_PROFILE", "w")  # not explicit: the variables win, key by key
        drive(default_chain().load())
        assert s.calls[-1]["RoleArn"] == ROLE + "-env" and s.calls[-1]["WebIdentityToken"] == "env-token"


def test_web_identity_without_role_arn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(jwt(tmp_path)))
    with pytest.raises(CredentialsError, match="web-identity: .* no role ARN"):
        drive(default_chain().load())


def test_sts_errors_are_clear_and_secret_free(tmp_path: Path) -> None:
    token = "eyJ.super-secret-jwt-zz.sig"
    with FakeSTS(errors=[(400, "InvalidIdentityToken")]) as s:
        with pytest.raises(CredentialsError) as ei:
            drive(WebIdentityProvider(ROLE, str(jwt(tmp_path, token)), endpoint=s.url).load())
        msg = str(ei.value)
        assert "web-identity: STS AssumeRoleWithWebIdentity" in msg and "InvalidIdentityToken" in msg
        assert token not in msg


def test_sts_transient_errors_are_retried(tmp_path: Path) -> None:
    with FakeSTS(errors=[(503, "ServiceUnavailable"), (400, "IDPCommunicationError")]) as s:
        assert drive(WebIdentityProvider(ROLE, str(jwt(tmp_path)), endpoint=s.url).load()).access_key == "AKIDSTS1"
        assert len(s.calls) == 3
    with FakeSTS(errors=[(500, "InternalFailure")] * 3) as s:
        with pytest.raises(CredentialsError, match="after 3 attempts"):
            drive(WebIdentityProvider(ROLE, str(jwt(tmp_path)), endpoint=s.url).load())


@pytest.mark.parametrize("env,host", [
    ({}, "sts.us-east-1.amazonaws.com:443"),
    ({"AWS_REGION": "eu-west-1"}, "sts.eu-west-1.amazonaws.com:443"),
    ({"AWS_REGION": "eu-west-1", "AWS_STS_REGIONAL_ENDPOINTS": "legacy"}, "sts.amazonaws.com:443"),
    ({"AWS_REGION": "ap-east-1", "AWS_STS_REGIONAL_ENDPOINTS": "legacy"}, "sts.ap-east-1.amazonaws.com:443"),
    ({"AWS_REGION": "cn-north-1"}, "sts.cn-north-1.amazonaws.com.cn:443"),
    ({"AWS_ENDPOINT_URL": "https://sts.example.test"}, "sts.example.test:443"),
    ({"AWS_ENDPOINT_URL": "https://generic.test", "AWS_ENDPOINT_URL_STS": "https://specific.test:8443"},
     "specific.test:8443"),
    ({"AWS_ENDPOINT_URL_STS": "https://specific.test", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
     "sts.us-east-1.amazonaws.com:443"),
])
def test_sts_endpoint_selection(env: dict[str, str], host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                loopback_guard: object) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(jwt(tmp_path)))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    with pytest.raises(NonLoopbackConnection):
        drive(default_chain().load())
    assert loopback_guard.refused == [host] * 1  # type: ignore[attr-defined]


def test_sts_endpoint_from_profile_and_services_section(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        loopback_guard: object) -> None:
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(jwt(tmp_path)))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    write(home / ".aws" / "config", "[default]\nendpoint_url = https://profile.test\n[profile s]\nservices = local\n"
          "endpoint_url = https://profile.test\n[services local]\nsts =\n  endpoint_url = https://svc-sts.test:9443\n")
    with pytest.raises(NonLoopbackConnection):
        drive(default_chain().load())
    monkeypatch.setenv("AWS_PROFILE", "s")  # (an explicit profile would ignore the AWS_WEB_IDENTITY_* variables)
    with pytest.raises(NonLoopbackConnection):
        drive(default_chain().load())
    assert loopback_guard.refused == ["profile.test:443", "svc-sts.test:9443"]  # type: ignore[attr-defined]


def test_programmatic_assume_role_with_env_source(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSTS(secrets={"AKIDENV": "env-secret"}) as s:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
        p = AssumeRoleProvider(ROLE, EnvProvider(), session_name="prog", endpoint=s.url, region="eu-central-1")
        assert drive(p.load()).access_key == "AKIDSTS1"
        assert s.calls[0]["RoleSessionName"] == "prog" and "/eu-central-1/sts/" in s.requests[0].headers["authorization"]


def test_web_identity_arguments_ignore_a_missing_aws_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "not-there")
    with FakeSTS() as s:
        assert drive(WebIdentityProvider(ROLE, str(jwt(tmp_path)), endpoint=s.url).load()).access_key == "AKIDSTS1"
