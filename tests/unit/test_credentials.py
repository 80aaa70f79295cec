"""Credential and region resolution, without a server (temporary HOME and environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

import s3kit
from s3kit import CredentialsError, S3Client
from s3kit.credentials import Credentials, resolve_credentials, resolve_region

AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for v in AWS_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "envak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsk")
    c, _ = resolve_credentials("ak", "sk", None, None)
    assert (c.access_key, c.secret_key) == ("ak", "sk")


def test_env_standard_and_seed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "envak")
    monkeypatch.setenv("AWS_SECRET_KEY", "seedsk")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    c, _ = resolve_credentials(None, None, None, None)
    assert (c.access_key, c.secret_key, c.session_token) == ("envak", "seedsk", "tok")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stdsk")
    assert resolve_credentials(None, None, None, None)[0].secret_key == "stdsk"


def test_shared_files_and_profiles(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean_env / ".aws" / "credentials",
          "[default]\naws_access_key_id = dak\naws_secret_access_key = dsk\n"
          "[work]\naws_access_key_id = wak\naws_secret_access_key = wsk\naws_session_token = wtok\n")
    write(clean_env / ".aws" / "config", "[default]\nregion = eu-west-1\n[profile work]\nregion = ap-south-1\n")
    c, settings = resolve_credentials(None, None, None, None)
    assert (c.access_key, c.secret_key) == ("dak", "dsk")
    assert resolve_region(None, settings, {}) == "eu-west-1"
    c, settings = resolve_credentials(None, None, None, "work")
    assert (c.access_key, c.session_token) == ("wak", "wtok")
    assert resolve_region(None, settings, {}) == "ap-south-1"
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert resolve_credentials(None, None, None, None)[0].access_key == "wak"


def test_explicit_profile_beats_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean_env / ".aws" / "credentials", "[p]\naws_access_key_id = pak\naws_secret_access_key = psk\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "envak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsk")
    assert resolve_credentials(None, None, None, "p")[0].access_key == "pak"
    assert resolve_credentials(None, None, None, None)[0].access_key == "envak"


def test_custom_file_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "c.ini", "[default]\naws_access_key_id = x\naws_secret_access_key = y\n")
    write(tmp_path / "conf.ini", "[default]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "c.ini"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "conf.ini"))
    c = S3Client("http://127.0.0.1:9")
    assert c.credentials.access_key == "x" and c.region == "sa-east-1"


def test_missing_secret_names_what_and_where(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "only-ak")
    with pytest.raises(CredentialsError) as ei:
        S3Client("http://127.0.0.1:9")
    msg = str(ei.value)  # the chain stops at the half-set environment, as botocore does
    assert "AWS_ACCESS_KEY_ID is set" in msg and "AWS_SECRET_ACCESS_KEY" in msg and "AWS_SECRET_KEY" in msg


def test_missing_everything() -> None:
    with pytest.raises(CredentialsError, match="no credentials found") as ei:
        S3Client("http://127.0.0.1:9")
    msg = str(ei.value)  # every place looked at, in order
    assert "AWS_ACCESS_KEY_ID" in msg and ".aws" in msg and "credentials" in msg and "metadata" in msg.lower()


def test_unknown_profile() -> None:
    with pytest.raises(CredentialsError, match="profile 'nope' not found"):
        S3Client("http://127.0.0.1:9", profile="nope")


def test_region_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_region(None, {}, {}) == "us-east-1"
    assert resolve_region(None, {"region": "p"}, {"AWS_DEFAULT_REGION": "d"}) == "d"
    assert resolve_region(None, {"region": "p"}, {"AWS_DEFAULT_REGION": "d", "AWS_REGION": "r"}) == "r"
    assert resolve_region("a", {"region": "p"}, {"AWS_REGION": "r"}) == "a"


def test_endpoint_from_env_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    c = S3Client(None, "a", "b")
    assert c.endpoint == "s3.amazonaws.com" and c._config.endpoint.scheme == "https"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1234")
    assert S3Client(None, "a", "b").endpoint == "http://127.0.0.1:1234"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.2:99")
    assert S3Client(None, "a", "b").endpoint == "http://127.0.0.2:99"


def test_secrets_never_in_repr() -> None:
    c = S3Client("http://127.0.0.1:9", "AKIDPUBLIC", "SUPERSECRET/KEY", session_token="TOKENSECRET")
    for text in (repr(c), str(c), repr(c.credentials), str(c.credentials),
                 repr(Credentials("a", "SUPERSECRET/KEY", "TOKENSECRET"))):
        assert "SUPERSECRET" not in text and "TOKENSECRET" not in text
    assert "AKIDPUBLIC" in repr(c)


def test_addressing(monkeypatch: pytest.MonkeyPatch) -> None:
    aws = S3Client(None, "a", "b")
    assert aws._engine.route("photos").host == "photos.s3.amazonaws.com" and aws._engine.route("photos").prefix == "/"
    assert aws._engine.route("my.dotted").prefix == "/my.dotted/"  # dots break TLS wildcard certs
    local = S3Client("http://127.0.0.1:7480", "a", "b")
    assert local._engine.route("photos").prefix == "/photos/" and local._engine.route("photos").host == "127.0.0.1"
    assert S3Client("localhost:9000", "a", "b")._engine.route("x1x").host == "localhost"
    assert S3Client("play.min.io:9000", "a", "b")._config.endpoint.scheme == "https"
    with pytest.raises(s3kit.InvalidArgument):  # "bkt.127.0.0.1" resolves nowhere: refused up front
        S3Client("http://127.0.0.1:9", "a", "b", addressing="virtual")
    assert S3Client(None, "a", "b", addressing="path")._engine.route("bkt").prefix == "/bkt/"
    assert S3Client(None, "a", "b", "eu-west-1")._engine.route("bkt").host == "bkt.s3.eu-west-1.amazonaws.com"
    assert S3Client("http://127.0.0.1:80", "a", "b")._engine.route("b").host_header == "127.0.0.1"
    assert S3Client("http://127.0.0.1:81", "a", "b")._engine.route("b").host_header == "127.0.0.1:81"
