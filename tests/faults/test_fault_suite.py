"""A mixed workload through the fault-injecting proxy (10% faults) against Ceph RGW.

Every operation must either succeed with byte-exact data or raise a specific S3Error;
afterwards the server (read directly, no proxy) must hold no corrupted object and no
unfinished multipart upload, and the connection pool must have stayed within its bound.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
from urllib.parse import urlsplit

from s3kit import NoSuchKey, Retry, S3Client, S3Error, Timeout
from tests.conftest import client_of, empty_and_delete, make_client, unique_bucket_name
from tests.faults.proxy import FaultProxy

OPS = 2000
ABSENT = None
REPORT = os.path.join(tempfile.gettempdir(), "s3kit-fault-report.json")


class Model:
    """What each key may hold: a set of possible values (ABSENT = no object)."""

    def __init__(self) -> None:
        self.possible: dict[str, set[bytes | None]] = {}

    def get(self, key: str) -> set[bytes | None]:
        return self.possible.get(key, {ABSENT})

    def done(self, key: str, value: bytes | None) -> None:
        self.possible[key] = {value}

    def maybe(self, key: str, value: bytes | None) -> None:
        self.possible[key] = self.get(key) | {value}


def test_mixed_workload_under_faults(ceph_server: object, kind: str) -> None:
    srv = ceph_server
    direct = make_client(srv)  # type: ignore[arg-type]
    name = unique_bucket_name("faults")
    direct.create_bucket(name)
    u = urlsplit(srv.endpoint)  # type: ignore[attr-defined]
    rng = random.Random(20261124)
    model = Model()
    keys = [f"k/{i:02d}" + (" odd+key?" if i % 7 == 0 else "") for i in range(40)]
    outcome = {"ok": 0, "failed": 0, "expected_nosuchkey": 0}
    failures_by_code: dict[str, int] = {}
    pool_peak = [0]
    stop = threading.Event()
    try:
        with FaultProxy((u.hostname, u.port), rate=0.10, seed=7, stall_seconds=1.2) as proxy:  # type: ignore[arg-type]
            client = client_of(kind, proxy.endpoint, srv.access_key, srv.secret_key,  # type: ignore[attr-defined]
                               timeout=Timeout(connect=2, read=0.5), retry=Retry(max_attempts=5, base=0.01),
                               max_connections=8)
            bucket = client.bucket(name)

            def watch() -> None:
                while not stop.is_set():
                    pool_peak[0] = max(pool_peak[0], client.transport.open_connections())
                    stop.wait(0.005)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            big = tempfile.NamedTemporaryFile(delete=False)
            for i in range(OPS):
                key = rng.choice(keys)
                op = rng.choices(["put", "get", "head", "list", "copy", "delete", "multipart"],
                                 [30, 30, 10, 8, 8, 12, 0.25])[0]
                data = rng.randbytes(rng.choice([0, 1, 100, 4096, 70_000])) + key.encode()
                try:
                    if op == "put":
                        try:
                            bucket.put(key, data)
                        except S3Error:
                            model.maybe(key, data)
                            raise
                        model.done(key, data)
                    elif op == "get":
                        want = model.get(key)
                        try:
                            got: bytes | None = bucket.get(key)
                        except NoSuchKey:
                            got = ABSENT
                        assert got in want, f"get({key!r}) returned data the key never held"
                        model.done(key, got)
                    elif op == "head":
                        sizes = {len(v) if v is not None else None for v in model.get(key)}
                        try:
                            size: int | None = bucket.head(key).size
                        except NoSuchKey:
                            size = None
                        assert size in sizes
                    elif op == "list":
                        listed = set(bucket.list_objects("k/"))
                        for k in keys:
                            p = model.get(k)
                            if ABSENT not in p:
                                assert k in listed
                            if p == {ABSENT}:
                                assert k not in listed
                    elif op == "copy":
                        src = rng.choice([k for k in keys if k != key])  # S3 refuses a plain self-copy
                        src_vals = model.get(src)
                        try:
                            bucket.copy_to(f"{name}/{src}", key)
                        except NoSuchKey:
                            assert ABSENT in src_vals
                            outcome["expected_nosuchkey"] += 1
                            continue
                        except S3Error:
                            for v in src_vals - {ABSENT}:
                                model.maybe(key, v)
                            raise
                        model.possible[key] = src_vals - {ABSENT}
                    elif op == "delete":
                        try:
                            bucket.delete(key)
                        except NoSuchKey:
                            assert ABSENT in model.get(key)
                            model.done(key, ABSENT)
                            outcome["expected_nosuchkey"] += 1
                            continue
                        except S3Error:
                            model.maybe(key, ABSENT)
                            raise
                        model.done(key, ABSENT)
                    else:
                        blob = rng.randbytes(2 * 5 * 1024 * 1024 + 1000)
                        with open(big.name, "wb") as f:
                            f.write(blob)
                        try:
                            bucket.upload_file(big.name, key, part_size=5 * 1024 * 1024, concurrency=2)
                        except S3Error:
                            model.maybe(key, blob)
                            raise
                        model.done(key, blob)
                    outcome["ok"] += 1
                except S3Error as e:
                    outcome["failed"] += 1
                    failures_by_code[e.code] = failures_by_code.get(e.code, 0) + 1
            stop.set()
            watcher.join()
            os.unlink(big.name)
            injected = dict(proxy.injected)
            requests = proxy.requests
            retries = client.retry.retries
            client.close()
            assert client.transport.open_connections() == 0

        # -- the server, read directly: nothing corrupted, nothing left behind --------------
        stored = set(direct.bucket(name).list_objects())
        corrupted = []
        for k in keys:
            p = model.get(k)
            if k in stored:
                body = direct.bucket(name).get(k)
                if body not in p:
                    corrupted.append(k)
            elif ABSENT not in p:
                corrupted.append(k)
        assert stored <= set(keys)
        assert corrupted == []
        assert direct.bucket(name).list_uploads() == []
        assert pool_peak[0] <= 8
        report = {"operations": OPS, "succeeded": outcome["ok"],
                  "expected_nosuchkey": outcome["expected_nosuchkey"], "raised_s3error": outcome["failed"],
                  "failures_by_code": failures_by_code, "requests_through_proxy": requests,
                  "faults_injected": injected, "faults_total": sum(injected.values()), "retries": retries,
                  "corrupted_objects": len(corrupted), "multipart_uploads_left": 0,
                  "peak_open_connections": pool_peak[0], "pool_bound": 8}
        with open(REPORT, "w") as f:
            json.dump(report, f, indent=2)
        print("\nfault suite:", json.dumps(report))
        assert set(injected) == {"reset_before", "reset_mid_body", "slowdown_503", "internal_500",
                                 "truncated", "stall", "flip_byte"}
        assert sum(injected.values()) >= 0.07 * requests
    finally:
        stop.set()
        empty_and_delete(direct, name)


def test_shared_client_32_threads(ceph_server: object, kind: str) -> None:
    """5,000 mixed operations from 32 threads on one client: no errors, no cross-talk. With
    the async client, the 32 threads' calls are 32 concurrent tasks on one event loop."""
    s = ceph_server
    client = client_of(kind, s.endpoint, s.access_key, s.secret_key, max_connections=32)  # type: ignore[attr-defined]
    name = unique_bucket_name("threads")
    bucket = client.create_bucket(name)
    errors: list[BaseException] = []
    peak = [0]
    stop = threading.Event()
    per_thread = 5000 // 32 + 1

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], client.transport.open_connections())
            stop.wait(0.002)

    def work(t: int) -> None:
        rng = random.Random(t)
        try:
            for i in range(per_thread):
                key = f"t{t}/k{rng.randrange(5)}"
                op = rng.random()
                if op < 0.4:
                    bucket.put(key, f"{key}:{i}".encode() * rng.randrange(1, 50))
                elif op < 0.8:
                    try:
                        body = bucket.get(key)
                    except NoSuchKey:
                        continue
                    assert body.startswith(f"{key}:".encode()), f"cross-talk: {key} got {body[:40]!r}"
                elif op < 0.9:
                    try:
                        assert bucket.head(key).key == key
                    except NoSuchKey:
                        pass
                else:
                    assert all(k.startswith(f"t{t}/") for k in bucket.list_objects(f"t{t}/"))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=work, args=(t,)) for t in range(32)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        stop.set()
        watcher.join()
        assert errors == []
        assert peak[0] <= 32
        print(f"\n32 threads x {per_thread} ops: peak open connections {peak[0]} (bound 32)")
    finally:
        stop.set()
        empty_and_delete(client, name)


def test_client_creation_is_thread_safe(ceph_server: object) -> None:
    made: list[S3Client] = []
    errors: list[BaseException] = []

    def make() -> None:
        try:
            c = make_client(ceph_server)  # type: ignore[arg-type]
            c.list_buckets()
            made.append(c)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=make) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(made) == 32
