"""EC2 instance metadata provider against a scripted IMDS on loopback."""

from __future__ import annotations

import time

import pytest

from s3kit.credentials import IMDSProvider, imds_region
from s3kit.credentials.wire import parse_time
from s3kit.transport import Transport
from tests import credservers
from tests.credservers import Blackhole, FakeIMDS, closed_port_url, drive

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")


def provider(url: str, **kw: object) -> IMDSProvider:
    return IMDSProvider({"AWS_EC2_METADATA_SERVICE_ENDPOINT": url}, **kw)  # type: ignore[arg-type]


def test_imdsv2_token_role_and_credentials() -> None:
    with FakeIMDS() as s:
        p = provider(s.url)
        c = drive(p.load())
        assert c.access_key == "AKIDIMDS1" and c.secret_key == "SECRET-imds-1-zz" and c.session_token == "TOKEN-imds-1-zz"
        assert c.expires_at is not None and c.expires_at > time.time() + 5 * 3600
        assert p.role == "test-role" and p.name == "imds"
        assert s.token_ttls == ["21600"]
        gets = [r for r in s.requests if r.method == "GET"]
        assert [r.path for r in gets] == [s.CREDS, s.CREDS + "test-role"]
        assert all(r.headers["x-aws-ec2-metadata-token"] == "imds-token-1-secretish" for r in gets)


def test_token_is_cached_between_loads() -> None:
    with FakeIMDS() as s:
        p = provider(s.url)
        t = Transport()
        drive(p.load(), t)
        drive(p.load(), t)
        assert s.count("PUT") == 1 and s.count("GET") == 4


def test_revoked_token_gets_401_and_is_fetched_again() -> None:
    with FakeIMDS() as s:
        p = provider(s.url)
        t = Transport()
        assert drive(p.load(), t).access_key == "AKIDIMDS1"
        s.revoke_tokens()
        c = drive(p.load(), t)
        assert c.access_key == "AKIDIMDS2"
        assert s.count("PUT") == 2
        statuses = [r.headers.get("x-aws-ec2-metadata-token") for r in s.requests if r.method == "GET"]
        assert statuses[2] == "imds-token-1-secretish" and statuses[3] == "imds-token-2-secretish"


def test_token_expiry_refetches() -> None:
    with FakeIMDS() as s:
        p = provider(s.url, token_ttl=2)
        t = Transport()
        drive(p.load(), t)
        assert s.token_ttls == ["2"]
        time.sleep(1.3)  # cached for ttl - min(60, ttl/10) = 1.8 s; server expires it at 2 s
        drive(p.load(), t)
        assert s.count("PUT") == 1
        time.sleep(0.7)
        drive(p.load(), t)
        assert s.count("PUT") == 2
        assert s.count("GET") == 6  # renewed before the server expired it: no 401 on the way
        assert not [r for r in s.requests if r.method == "GET" and r.headers.get("x-aws-ec2-metadata-token") is None]


@pytest.mark.parametrize("status", [403, 404, 405])
def test_falls_back_to_v1(status: int) -> None:
    with FakeIMDS(v1_status=status) as s:
        c = drive(provider(s.url).load())
        assert c.access_key == "AKIDIMDS1"
        assert all("x-aws-ec2-metadata-token" not in r.headers for r in s.requests if r.method == "GET")


def test_v1_disabled_refuses_fallback() -> None:
    with FakeIMDS(v1_status=404) as s:
        p = provider(s.url, v1_disabled=True)
        assert drive(p.load()) is None
        assert "IMDSv1 is disabled" in p.where
        assert s.count("GET") == 0


def test_error_json_on_200_is_no_credentials() -> None:
    with FakeIMDS(error_json=True) as s:
        p = provider(s.url)
        assert drive(p.load()) is None
        assert "AssumeRoleUnauthorizedAccess" in p.where


def test_no_role_attached() -> None:
    with FakeIMDS(role="") as s:
        p = provider(s.url)
        assert drive(p.load()) is None
        assert "404" in p.where


def test_connection_refused_is_fast_and_none() -> None:
    p = provider(closed_port_url())
    t0 = time.monotonic()
    assert drive(p.load()) is None
    assert time.monotonic() - t0 < 0.5
    assert "unreachable" in p.where


def test_slow_service_times_out_after_one_second() -> None:
    with FakeIMDS(delay=3.0) as s:
        p = provider(s.url)
        t0 = time.monotonic()
        assert drive(p.load()) is None
        took = time.monotonic() - t0
        # token PUT: 1 s; IMDSv1 fallback: half the timeout
        assert 1.0 <= took < 2.0, took


def test_blackhole_is_bounded() -> None:
    with Blackhole() as b:
        p = provider(b.url)
        t0 = time.monotonic()
        assert drive(p.load()) is None
        assert time.monotonic() - t0 < 2.0


def test_timeout_and_attempts_from_env() -> None:
    with FakeIMDS(delay=0.6) as s:
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": s.url, "AWS_METADATA_SERVICE_TIMEOUT": "0.3"}
        assert drive(IMDSProvider(env).load()) is None
        env["AWS_METADATA_SERVICE_TIMEOUT"] = "2"
        assert drive(IMDSProvider(env).load()) is not None


def test_disabled_by_env() -> None:
    p = IMDSProvider({"AWS_EC2_METADATA_DISABLED": "TRUE", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"})
    assert drive(p.load()) is None
    assert "disabled" in p.where


def test_endpoint_mode_ipv6_default_address(loopback_guard: object) -> None:
    from tests.credservers import NonLoopbackConnection

    p = IMDSProvider({"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"})
    with pytest.raises(NonLoopbackConnection):
        drive(p.load())
    assert loopback_guard.refused == ["fd00:ec2::254:80"]  # type: ignore[attr-defined]


def test_ipv6_endpoint() -> None:
    class IMDS6(FakeIMDS):
        host = "::1"

    try:
        server = IMDS6()
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server as s:
        assert s.url.startswith("http://[::1]:")
        assert drive(provider(s.url).load()).access_key == "AKIDIMDS1"
        assert s.requests[0].headers["host"] == f"[::1]:{s.port}"


def test_static_stability_extends_expiring_credentials() -> None:
    with FakeIMDS(lifetime=60) as s:  # the service keeps handing out credentials that expire in a minute
        p = provider(s.url, refresh_window=900, jitter=(120, 600))
        c = drive(p.load())
        left = c.expires_at - time.time()
        assert 900 + 120 - 2 <= left <= 900 + 600 + 2, left
    with FakeIMDS(lifetime=6 * 3600) as s:  # fresh ones keep their own expiry
        c = drive(provider(s.url).load())
        assert abs(c.expires_at - (time.time() + 6 * 3600)) < 5


def test_region() -> None:
    with FakeIMDS(region="ap-southeast-4") as s:
        assert drive(imds_region({"AWS_EC2_METADATA_SERVICE_ENDPOINT": s.url})) == "ap-southeast-4"
    assert drive(imds_region({"AWS_EC2_METADATA_SERVICE_ENDPOINT": closed_port_url()})) is None
    assert drive(imds_region({"AWS_EC2_METADATA_DISABLED": "true"})) is None


def test_settings_from_profile() -> None:
    with FakeIMDS() as s:
        p = IMDSProvider({}, settings=lambda: {"ec2_metadata_service_endpoint": s.url + "/"})
        assert drive(p.load()).access_key == "AKIDIMDS1"


def test_expiration_with_microseconds_parses() -> None:
    assert parse_time("2026-11-25T01:43:54.618197Z") == pytest.approx(1795571034.618197, abs=1e-6)
    assert parse_time("2026-11-25T02:43:54+01:00") == 1795571034
    assert parse_time("2026-11-25 01:43:54") == 1795571034
    assert parse_time(1795571034000) == 1795571034
    with pytest.raises(ValueError):
        parse_time("tomorrow")
