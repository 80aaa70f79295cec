"""Ceph RGW over IPv6 loopback, and clients shipped to spawn-started worker processes
(issue 10, defects 9 and 11)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import urllib.request
from concurrent.futures import ProcessPoolExecutor

import pytest

from s3kit import S3Bucket, S3Client
from tests.conftest import empty_and_delete, make_client, unique_bucket_name


def _v6(server: object) -> str:
    ep = getattr(server, "endpoint6", None)
    if not ep:
        pytest.skip("this Ceph RGW does not listen on [::1]")
    return str(ep)


def test_ipv6_endpoint_end_to_end(ceph_server: object) -> None:
    ep = _v6(ceph_server)
    s = ceph_server
    c = S3Client(ep, s.access_key, s.secret_key)  # type: ignore[attr-defined]
    name = unique_bucket_name("v6")
    b = c.create_bucket(name)
    try:
        b.put("a b/ü.txt", b"over v6")  # the signature covers Host: [::1]:port
        assert b.get("a b/ü.txt") == b"over v6"
        assert b.list_objects() == ["a b/ü.txt"]
        url = b.presign("a b/ü.txt")
        assert url.startswith(ep + "/")
        with urllib.request.urlopen(url, timeout=10) as r:  # a standard client can follow it
            assert r.read() == b"over v6"
        put_url = b.presign("up", method="PUT")
        req = urllib.request.Request(put_url, data=b"presigned put", method="PUT")
        urllib.request.urlopen(req, timeout=10).read()
        assert b.get("up") == b"presigned put"
    finally:
        empty_and_delete(c, name)


def test_ipv6_endpoint_in_the_cli(ceph_server: object) -> None:
    ep = _v6(ceph_server)
    s = ceph_server
    c = S3Client(ep, s.access_key, s.secret_key)  # type: ignore[attr-defined]
    name = unique_bucket_name("v6cli")
    c.create_bucket(name).put("k", b"cli over v6")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=s.access_key, AWS_SECRET_ACCESS_KEY=s.secret_key)  # type: ignore[attr-defined]
    exe = os.path.join(os.path.dirname(sys.executable), "s3kit")
    try:
        p = subprocess.run([exe, "--endpoint-url", ep, "cat", f"s3://{name}/k"], env=env,
                           capture_output=True, timeout=60)
        assert p.returncode == 0 and p.stdout == b"cli over v6", p.stderr
    finally:
        empty_and_delete(c, name)


def _worker_get(bucket: S3Bucket, key: str) -> bytes:
    return bucket.get(key)


def _worker_put(client: S3Client, bucket: str, i: int) -> str:
    client.bucket(bucket).put(f"from-worker-{i}", f"written by {os.getpid()}".encode())
    return f"from-worker-{i}"


def test_spawned_workers_receive_clients_and_buckets(ceph_server: object) -> None:
    c = make_client(ceph_server)  # type: ignore[arg-type]
    name = unique_bucket_name("spawn")
    b = c.create_bucket(name)
    try:
        for i in range(8):
            b.put(f"k{i}", f"value {i}".encode())
        assert pickle.loads(pickle.dumps(b)).get("k0") == b"value 0"
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            got = list(ex.map(_worker_get, [b] * 8, [f"k{i}" for i in range(8)]))
            keys = list(ex.map(_worker_put, [c] * 4, [name] * 4, range(4)))
        assert got == [f"value {i}".encode() for i in range(8)]
        assert sorted(keys) == sorted(k for k in b.list_objects() if k.startswith("from-worker-"))
    finally:
        empty_and_delete(c, name)
