"""Connection pools and fork(): a child never touches its parent's sockets (issue 10, defect 1).

Before the fix, a warm client's keep-alive sockets were shared by parent and child after
fork(): each read the other's answers (the wrong object, with a consistent ETag, so
verification passed) and the loser stalled for the 30 s read timeout.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from s3kit import S3Bucket, S3Client
from tests.conftest import empty_and_delete, make_client, unique_bucket_name

N = 240  # distinct objects, > 200 GETs through the fork pool
_BUCKET: S3Bucket | None = None  # inherited by forked workers


def _value(i: int) -> bytes:
    return f"object {i:04d} ".encode() * (20 + i % 7)


def _get(i: int) -> tuple[int, bool, float]:
    assert _BUCKET is not None
    t = time.monotonic()
    data = _BUCKET.get(f"k{i:04d}")
    return i, data == _value(i), time.monotonic() - t


@pytest.fixture(scope="module")
def filled(ceph_server: object) -> Iterator[S3Bucket]:
    global _BUCKET
    client = make_client(ceph_server)  # type: ignore[arg-type]
    name = unique_bucket_name("fork")
    b = client.create_bucket(name)
    for i in range(N):
        b.put(f"k{i:04d}", _value(i))
    _BUCKET = b
    yield b
    _BUCKET = None
    empty_and_delete(client, name)
    client.close()


def _warm(b: S3Bucket) -> None:
    # several pooled keep-alive connections in the parent, idle and recently used
    threads = [threading.Thread(target=b.get, args=(f"k{i:04d}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.get("k0000") == _value(0)


def test_fork_pool_gets_right_objects_without_stalls(filled: S3Bucket) -> None:
    _warm(filled)
    before = filled.client.transport.open_connections()
    assert before >= 1
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_get, range(N), chunksize=5)
    wrong = [i for i, ok, _ in results if not ok]
    slow = [(i, round(d, 2)) for i, _, d in results if d > 1.0]
    assert not wrong, f"{len(wrong)} GETs returned another object: {wrong[:10]}"
    assert not slow, f"GETs waited over 1 s: {slow[:10]}"
    # the parent keeps its own connections and they still work
    assert filled.client.transport.open_connections() >= 1
    assert [filled.get(f"k{i:04d}") for i in range(20)] == [_value(i) for i in range(20)]


def test_process_pool_executor_fork(filled: S3Bucket) -> None:
    _warm(filled)
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("fork")) as ex:
        results = list(ex.map(_get, range(0, N, 2), chunksize=4))
    assert all(ok for _, ok, _ in results)
    assert max(d for _, _, d in results) < 1.0


def _child_after_fork_mid_request(b: S3Bucket, w: int) -> None:
    # in the child: the parent's in-flight request does not exist here; the pool is new
    try:
        ok = all(b.get(f"k{i:04d}") == _value(i) for i in range(50, 80))
        os.write(w, b"1" if ok else b"0")
    finally:
        os._exit(0)


def test_fork_while_another_thread_is_mid_request(filled: S3Bucket) -> None:
    """A fork taken while a worker thread is inside a request (holding a pooled connection
    and possibly the pool's lock): the child must neither deadlock nor read that socket."""
    _warm(filled)
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer() -> None:
        i = 0
        while not stop.is_set():
            try:
                assert filled.get(f"k{i % N:04d}") == _value(i % N)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                return
            i += 1

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        results = []
        for _ in range(12):
            r, w = os.pipe()
            t0 = time.monotonic()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                _child_after_fork_mid_request(filled, w)
            os.close(w)
            _, status = os.waitpid(pid, 0)
            results.append((os.read(r, 1), time.monotonic() - t0))
            os.close(r)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert all(ok == b"1" for ok, _ in results), results
    assert max(d for _, d in results) < 10, results


def test_streaming_body_is_not_read_across_fork(filled: S3Bucket) -> None:
    """A response stream opened before fork() is not read in the child (the socket is the
    parent's): the child's read goes through a new connection, the parent's stream is intact."""
    big = os.urandom(3 << 20)  # larger than the reader's buffer: the socket is still mid-body
    filled.put("big", big)
    with filled.open("big") as f:
        assert f.read(10) == big[:10]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                rest = f.read()
                os.write(w, b"1" if rest == big[10:] else b"0")
            except BaseException:  # noqa: BLE001
                os.write(w, b"E")
            finally:
                os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        child = os.read(r, 1)
        os.close(r)
        t0 = time.monotonic()
        assert f.read() == big[10:]
        assert time.monotonic() - t0 < 5  # the child did not drain the parent's socket
    assert child == b"1"


def test_client_made_before_fork_in_fresh_child_pool(ceph_server: object) -> None:
    """A client used only in the child after fork (no warm pool) works too."""
    c = S3Client(ceph_server.endpoint, ceph_server.access_key, ceph_server.secret_key)  # type: ignore[attr-defined]
    assert isinstance(c.list_buckets(), list)
    pid = os.fork()
    if pid == 0:
        try:
            c.list_buckets()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    c.close()
