"""The default chain: botocore's order (compared with botocore itself), explicit arguments,
environment, shared files, errors, the time it takes when nothing is there, and the
loopback guard every credential test runs under."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from s3kit.credentials import (
    CredentialChain,
    Credentials,
    EnvProvider,
    RefreshingCredentials,
    SharedFilesProvider,
    default_chain,
)
from s3kit.errors import CredentialsError
from tests import credservers
from tests.credservers import (
    Blackhole,
    FakeContainer,
    FakeSTS,
    NonLoopbackConnection,
    closed_port_url,
    drive,
    iso,
    script,
    write,
)

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")

ROLE = "arn:aws:iam::123456789012:role/r"


@pytest.fixture()
def home(creds_env: dict[str, str]) -> Path:
    return Path(creds_env["HOME"])


def load(**kw: Any) -> tuple[Credentials, str]:
    creds, provider = drive(default_chain(**kw).load())
    return creds, provider.name


# -- the guard -------------------------------------------------------------------------------


def test_no_test_reaches_a_real_metadata_address(monkeypatch: pytest.MonkeyPatch, loopback_guard: Any) -> None:
    """With IMDS enabled and nothing else configured, the chain tries 169.254.169.254, and
    the guard every credential test runs under stops it before a packet leaves."""
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    with pytest.raises(NonLoopbackConnection, match="169.254.169.254:80"):
        load()
    assert loopback_guard.refused == ["169.254.169.254:80"]
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")
    with pytest.raises(NonLoopbackConnection, match="169.254.170.2:80"):
        load()


# -- same identity as botocore ---------------------------------------------------------------


BOTO_NAMES = {"env": "env", "assume-role": "assume-role", "assume-role-with-web-identity": "web-identity",
              "sso": "sso", "shared-credentials-file": "shared-credentials-file", "custom-process": "credential-process",
              "config-file": "config-file", "container-role": "container", "iam-role": "imds"}


def botocore_method(profile: str | None) -> tuple[str, str | None]:
    import botocore.session

    s = botocore.session.Session(profile=profile)
    c = s.get_credentials()
    assert c is not None
    ak = None if c.method in ("assume-role", "assume-role-with-web-identity", "sso") else c.access_key
    return BOTO_NAMES[c.method], ak


SCENARIOS = {
    "env only": ({"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s"}, "", "", None),
    "env beats files": ({"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s"},
                        "[default]\naws_access_key_id = AKFILE\naws_secret_access_key = s\n", "", None),
    "explicit profile beats env": ({"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s"},
                                   "[p]\naws_access_key_id = AKP\naws_secret_access_key = s\n", "", "p"),
    "AWS_PROFILE does not beat env": ({"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "p"},
                                      "[p]\naws_access_key_id = AKP\naws_secret_access_key = s\n", "", None),
    "credentials file beats config file": ({}, "[default]\naws_access_key_id = AKCRED\naws_secret_access_key = s\n",
                                           "[default]\naws_access_key_id = AKCONF\naws_secret_access_key = s\n", None),
    "config file keys": ({}, "", "[profile c]\naws_access_key_id = AKCONF\naws_secret_access_key = s\n", "c"),
    "assume-role beats the profile's own keys": (
        {}, f"[r]\naws_access_key_id = AKR\naws_secret_access_key = s\nrole_arn = {ROLE}\nsource_profile = r\n", "", "r"),
    "web identity beats shared files": ({"AWS_WEB_IDENTITY_TOKEN_FILE": "{tmp}/tok", "AWS_ROLE_ARN": ROLE},
                                        "[default]\naws_access_key_id = AKF\naws_secret_access_key = s\n", "", None),
    "process after shared file": ({}, "[default]\naws_access_key_id = AKF\naws_secret_access_key = s\n",
                                  "[default]\ncredential_process = {proc}\n", None),
    "process before config keys": ({}, "", "[default]\ncredential_process = {proc}\naws_access_key_id = AKC\n"
                                   "aws_secret_access_key = s\n", None),
    "sso before shared credentials file": (
        {}, "[s]\naws_access_key_id = AKF\naws_secret_access_key = s\n",
        "[profile s]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 1\n"
        "sso_role_name = R\n", "s"),
    "sso before process": ({}, "", "[profile s]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n"
                           "sso_account_id = 1\nsso_role_name = R\ncredential_process = {proc}\n", "s"),
    "container last but one": ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "{container}/c"}, "", "", None),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_same_identity_as_botocore(scenario: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env, creds_file, config_file, profile = SCENARIOS[scenario]
    proc = script(tmp_path, "p.py", "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'AKPROC', "
                  "'SecretAccessKey': 's'}))\n")
    (tmp_path / "tok").write_text("jwt")
    with FakeContainer() as ctr, FakeSTS(secrets={"AKR": "s"}) as sts:
        subst = {"{tmp}": str(tmp_path), "{proc}": str(proc), "{container}": ctr.url}

        def fill(text: str) -> str:
            for k, v in subst.items():
                text = text.replace(k, v)
            return text

        for k, v in env.items():
            monkeypatch.setenv(k, fill(v))
        if creds_file:
            write(home / ".aws" / "credentials", fill(creds_file))
        if config_file:
            write(home / ".aws" / "config", fill(config_file))
        theirs = botocore_method(profile)
        ctr.keys.issued = 0
        chain = default_chain(profile=profile)
        # run ours only as far as choosing: providers that need a network answer get a stand-in
        for p in chain.providers:
            if p.name in ("assume-role", "web-identity"):
                p.endpoint = sts.url  # type: ignore[attr-defined]
            if p.name == "sso":
                p.load = _chosen(p)  # type: ignore[method-assign]
        creds, provider = drive(chain.load())
        ours = (provider.name, None if provider.name in ("assume-role", "web-identity", "sso") else creds.access_key)
        assert ours == theirs


def _chosen(p: Any) -> Any:
    real = p.load

    def load() -> Any:
        try:
            return (yield from real())
        except CredentialsError as e:  # no cached token: it was chosen; that is all this test asks
            if "aws sso login" in str(e):
                return Credentials("SSO", "s")
            raise

    return load


# -- explicit arguments and environment --------------------------------------------------------


def test_explicit_arguments() -> None:
    c, name = load(access_key="AK", secret_key="SK", session_token="T")
    assert (c.access_key, c.secret_key, c.session_token, name) == ("AK", "SK", "T", "static")
    with pytest.raises(CredentialsError, match="access_key was given without secret_key"):
        default_chain(access_key="AK")
    with pytest.raises(CredentialsError, match="either"):
        default_chain(access_key="AK", secret_key="S", credentials_provider=lambda: Credentials("a", "b"))


def test_credentials_provider_callable() -> None:
    c, name = load(credentials_provider=lambda: Credentials("CB", "S"))
    assert (c.access_key, name) == ("CB", "callback")


def test_env_names_and_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKENV")
    monkeypatch.setenv("AWS_SECRET_KEY", "seed-secret")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "legacy-token")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", iso(time.time() + 3600))
    monkeypatch.setenv("AWS_ACCOUNT_ID", "123456789012")
    c, name = load()
    assert (c.secret_key, c.session_token, c.account_id, name) == ("seed-secret", "legacy-token", "123456789012", "env")
    assert c.expires_at and abs(c.expires_at - time.time() - 3600) < 5


def test_env_refresh_rereads_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AK1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", iso(time.time() + 60))
    m = RefreshingCredentials(default_chain(), advisory_window=120, mandatory_window=90, retry_interval=0)
    assert drive(m.current()).access_key == "AK1"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AK2")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", iso(time.time() + 3600))
    assert drive(m.current()).access_key == "AK2"


def test_env_access_key_without_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "only-ak")
    with pytest.raises(CredentialsError, match="env: AWS_ACCESS_KEY_ID is set but neither"):
        load()


# -- shared files ----------------------------------------------------------------------------


def test_profiles_and_settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = dak\naws_secret_access_key = dsk\n"
          "[work]\naws_access_key_id = wak\naws_secret_access_key = wsk\naws_security_token = wtok\n")
    write(home / ".aws" / "config", "[default]\nregion = eu-west-1\n[profile work]\nregion = ap-south-1\n"
          "endpoint_url = http://127.0.0.1:9000\n")
    chain = default_chain()
    assert drive(chain.load())[0].access_key == "dak" and chain.settings()["region"] == "eu-west-1"
    chain = default_chain(profile="work")
    c, p = drive(chain.load())
    assert (c.access_key, c.session_token, p.name) == ("wak", "wtok", "shared-credentials-file")
    assert chain.settings() == {"region": "ap-south-1", "endpoint_url": "http://127.0.0.1:9000",
                                "aws_access_key_id": "wak", "aws_secret_access_key": "wsk",
                                "aws_security_token": "wtok"}
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert load()[0].access_key == "wak"


def test_credentials_file_wins_in_merged_settings(home: Path) -> None:
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = a\naws_secret_access_key = b\nregion = from-creds\n")
    write(home / ".aws" / "config", "[default]\nregion = from-config\noutput = json\n")
    assert default_chain().settings() == {"aws_access_key_id": "a", "aws_secret_access_key": "b",
                                          "region": "from-creds", "output": "json"}


def test_host_header_and_ipv6_literals() -> None:
    from s3kit.credentials.wire import parse_url, request

    assert parse_url("http://[::1]:8080/base", "t").host_header == "[::1]:8080"
    assert parse_url("http://169.254.169.254", "t").host_header == "169.254.169.254"
    assert parse_url("https://sts.example.test:443/", "t").host_header == "sts.example.test"
    r = request("GET", parse_url("http://[fd00:ec2::254]:81/p", "t"), "/x?y=1")
    assert (r.host, r.port, r.target, r.headers["host"]) == ("fd00:ec2::254", 81, "/p/x?y=1", "[fd00:ec2::254]:81")
    with pytest.raises(CredentialsError, match="invalid URL"):
        parse_url("169.254.169.254:80", "imds")


def test_custom_file_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "c.ini", "[default]\naws_access_key_id = x\naws_secret_access_key = y\n")
    write(tmp_path / "conf.ini", "[default]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "c.ini"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "conf.ini"))
    chain = default_chain()
    assert drive(chain.load())[0].access_key == "x" and chain.settings()["region"] == "sa-east-1"


def test_partial_keys_in_a_file(home: Path) -> None:
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = x\n")
    with pytest.raises(CredentialsError, match="shared-credentials-file: .* has aws_access_key_id but no"):
        load()


def test_unknown_profile(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialsError, match="profile 'nope' not found"):
        load(profile="nope")
    monkeypatch.setenv("AWS_PROFILE", "nope")
    with pytest.raises(CredentialsError, match="profile 'nope' not found"):
        load()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKENV")  # the environment is looked at first
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    assert load()[0].access_key == "AKENV"


def test_unparsable_file(home: Path) -> None:
    write(home / ".aws" / "credentials", "aws_access_key_id = no section\n")
    with pytest.raises(CredentialsError, match="cannot parse"):
        load()


def test_files_are_read_once_per_chain(home: Path) -> None:
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = a\naws_secret_access_key = b\n")
    chain = default_chain()
    drive(chain.load())
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = changed\naws_secret_access_key = b\n")
    assert drive(chain.load())[0].access_key == "a"
    assert drive(default_chain().load())[0].access_key == "changed"


# -- nothing anywhere -------------------------------------------------------------------------


def test_nothing_found_lists_every_place(home: Path) -> None:
    with pytest.raises(CredentialsError) as ei:
        load()
    msg = str(ei.value)
    for where in ("environment variables", "assume-role", "web identity", "SSO", ".aws/credentials [default]",
                  "credential_process", ".aws/config [default]", "container credentials", "EC2 instance metadata"):
        assert where in msg, where


@pytest.mark.parametrize("kind", ["closed port", "accepts and never answers"])
def test_chain_time_when_nothing_is_available(kind: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    with Blackhole() as b:
        url = closed_port_url() if kind == "closed port" else b.url
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url)
        t0 = time.monotonic()
        with pytest.raises(CredentialsError, match="no credentials found"):
            load()
        took = time.monotonic() - t0
    with capsys.disabled():
        print(f"\n[chain with nothing available, IMDS {kind}: {took:.3f} s]")
    assert took < 2.0


def test_custom_chain_and_shared_files_provider(home: Path) -> None:
    write(home / ".aws" / "config", "[profile x]\naws_access_key_id = cfg\naws_secret_access_key = s\n")
    chain = CredentialChain([EnvProvider({}), SharedFilesProvider("x", kind="config")])
    c, p = drive(chain.load())
    assert c.access_key == "cfg" and p.name == "config-file"


# -- import cost and compatibility ---------------------------------------------------------------


def test_import_s3kit_stays_cheap() -> None:
    code = ("import sys, s3kit\nfrom s3kit.credentials import Credentials, resolve_credentials, resolve_region, "
            "load_profile, CredentialsProvider\n"
            "bad = [m for m in ('json', 'subprocess', 'configparser', 'xml.etree.ElementTree', "
            "'s3kit.credentials.refresh', 's3kit.credentials.imds') if m in sys.modules]\nprint(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import s3kit.credentials as c\nc.default_chain\nc.RefreshingCredentials\nc.IMDSProvider\nprint('ok')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "ok\n"
