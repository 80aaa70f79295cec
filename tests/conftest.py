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

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
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


@pytest.fixture(scope="session", params=["ceph", "moto"])
def server(request: pytest.FixtureRequest) -> servers.Server:
    return _server(request.param)


def make_client(srv: servers.Server, **kw: object) -> S3Client:
    return S3Client(srv.endpoint, srv.access_key, srv.secret_key, srv.region, **kw)  # type: ignore[arg-type]


@pytest.fixture()
def client(server: servers.Server) -> Iterator[S3Client]:
    with make_client(server) as c:
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
