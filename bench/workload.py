"""One client's benchmark workload, run in its own process by bench/run.py.

    python bench/workload.py CLIENT --endpoint URL --access-key K --secret-key S --bucket B [--quick]

Prints one JSON object of metrics on stdout. CLIENT: s3kit, boto3, minio, obstore.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# -- adapters: the same operations on each client ---------------------------------------------


class S3kit:
    def __init__(self, a: argparse.Namespace) -> None:
        import s3kit

        self.c = s3kit.S3Client(a.endpoint, a.access_key, a.secret_key, "us-east-1", max_connections=64)
        self.b = self.c.bucket(a.bucket)

    def put(self, k: str, d: bytes) -> None:
        self.b.put(k, d)

    def get(self, k: str) -> bytes:
        return self.b.get(k)

    def head(self, k: str) -> int:
        return self.b.head(k).size

    def delete(self, k: str) -> None:
        self.b.delete(k)  # the seed's contract: HEAD then DELETE (NoSuchKey if missing)

    def list(self, prefix: str) -> int:
        return sum(1 for _ in self.b.iter_objects(prefix))

    def upload(self, path: str, k: str) -> None:
        self.b.upload_file(path, k)

    def download(self, k: str, path: str) -> None:
        self.b.download_file(k, path)

    async def async_ops(self, a: argparse.Namespace, conc: int) -> tuple[Any, Any, Any]:
        import s3kit

        c = s3kit.AsyncS3Client(a.endpoint, a.access_key, a.secret_key, "us-east-1", max_connections=conc)
        b = c.bucket(a.bucket)

        async def put(k: str, d: bytes) -> None:
            await b.put(k, d)

        async def get(k: str) -> bytes:
            return await b.get(k)

        return put, get, c.close


class Aiobotocore:
    """aiobotocore (async only): the async rows."""

    def __init__(self, a: argparse.Namespace) -> None:
        pass

    async def async_ops(self, a: argparse.Namespace, conc: int) -> tuple[Any, Any, Any]:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        cm = get_session().create_client(
            "s3", endpoint_url=a.endpoint, aws_access_key_id=a.access_key, aws_secret_access_key=a.secret_key,
            region_name="us-east-1",
            config=AioConfig(max_pool_connections=conc, s3={"addressing_style": "path"},
                             request_checksum_calculation="when_required",
                             response_checksum_validation="when_required"))
        c = await cm.__aenter__()

        async def put(k: str, d: bytes) -> None:
            await c.put_object(Bucket=a.bucket, Key=k, Body=d)

        async def get(k: str) -> bytes:
            r = await c.get_object(Bucket=a.bucket, Key=k)
            async with r["Body"] as s:
                return await s.read()  # type: ignore[no-any-return]

        async def close() -> None:
            await cm.__aexit__(None, None, None)

        return put, get, close


class Boto3:
    def __init__(self, a: argparse.Namespace) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = a.bucket
        self.c = boto3.client("s3", endpoint_url=a.endpoint, aws_access_key_id=a.access_key,
                              aws_secret_access_key=a.secret_key, region_name="us-east-1",
                              config=Config(s3={"addressing_style": "path"}, max_pool_connections=64,
                                            request_checksum_calculation="when_required",
                                            response_checksum_validation="when_required"))

    def put(self, k: str, d: bytes) -> None:
        self.c.put_object(Bucket=self.bucket, Key=k, Body=d)

    def get(self, k: str) -> bytes:
        return self.c.get_object(Bucket=self.bucket, Key=k)["Body"].read()  # type: ignore[no-any-return]

    def head(self, k: str) -> int:
        return self.c.head_object(Bucket=self.bucket, Key=k)["ContentLength"]  # type: ignore[no-any-return]

    def delete(self, k: str) -> None:
        self.c.delete_object(Bucket=self.bucket, Key=k)

    def list(self, prefix: str) -> int:
        n = 0
        for page in self.c.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            n += len(page.get("Contents", []))
        return n

    def upload(self, path: str, k: str) -> None:
        self.c.upload_file(path, self.bucket, k)

    def download(self, k: str, path: str) -> None:
        self.c.download_file(self.bucket, k, path)


class Minio:
    def __init__(self, a: argparse.Namespace) -> None:
        import io

        from minio import Minio as M

        self.io = io
        self.bucket = a.bucket
        host = a.endpoint.split("://", 1)[1]
        self.c = M(host, access_key=a.access_key, secret_key=a.secret_key, secure=a.endpoint.startswith("https"),
                   region="us-east-1")

    def put(self, k: str, d: bytes) -> None:
        self.c.put_object(self.bucket, k, self.io.BytesIO(d), len(d))

    def get(self, k: str) -> bytes:
        r = self.c.get_object(self.bucket, k)
        try:
            return r.read()  # type: ignore[no-any-return]
        finally:
            r.close()
            r.release_conn()

    def head(self, k: str) -> int:
        return self.c.stat_object(self.bucket, k).size  # type: ignore[no-any-return]

    def delete(self, k: str) -> None:
        self.c.remove_object(self.bucket, k)

    def list(self, prefix: str) -> int:
        return sum(1 for _ in self.c.list_objects(self.bucket, prefix=prefix, recursive=True))

    def upload(self, path: str, k: str) -> None:
        self.c.fput_object(self.bucket, k, path)

    def download(self, k: str, path: str) -> None:
        self.c.fget_object(self.bucket, k, path)


class Obstore:
    def __init__(self, a: argparse.Namespace) -> None:
        import obstore
        from obstore.store import S3Store

        self.o = obstore
        self.s = S3Store(a.bucket, endpoint=a.endpoint, access_key_id=a.access_key,
                         secret_access_key=a.secret_key, region="us-east-1",
                         virtual_hosted_style_request=False, client_options={"allow_http": True})

    def put(self, k: str, d: bytes) -> None:
        self.o.put(self.s, k, d)

    def get(self, k: str) -> bytes:
        return bytes(self.o.get(self.s, k).bytes())

    def head(self, k: str) -> int:
        return self.o.head(self.s, k)["size"]  # type: ignore[no-any-return]

    def delete(self, k: str) -> None:
        self.o.delete(self.s, k)

    def list(self, prefix: str) -> int:
        return sum(len(batch) for batch in self.o.list(self.s, prefix=prefix))

    def upload(self, path: str, k: str) -> None:
        with open(path, "rb") as f:
            self.o.put(self.s, k, f)

    def download(self, k: str, path: str) -> None:
        with open(path, "wb") as f:
            for chunk in self.o.get(self.s, k):
                f.write(chunk)

    async def async_ops(self, a: argparse.Namespace, conc: int) -> tuple[Any, Any, Any]:
        from obstore.store import S3Store

        o = self.o
        s = S3Store(a.bucket, endpoint=a.endpoint, access_key_id=a.access_key, secret_access_key=a.secret_key,
                    region="us-east-1", virtual_hosted_style_request=False,
                    client_options={"allow_http": True, "pool_max_idle_per_host": str(conc)})

        async def put(k: str, d: bytes) -> None:
            await o.put_async(s, k, d)

        async def get(k: str) -> bytes:
            return bytes(await (await o.get_async(s, k)).bytes_async())

        async def close() -> None:
            pass

        return put, get, close


ADAPTERS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "s3kit": S3kit, "boto3": Boto3, "minio": Minio, "obstore": Obstore, "aiobotocore": Aiobotocore}
SYNC = {"s3kit", "boto3", "minio", "obstore"}
IMPORTS = {"s3kit": "import s3kit\nc = s3kit.S3Client({e!r}, {a!r}, {s!r}, 'us-east-1')",
           "boto3": "import boto3\nc = boto3.client('s3', endpoint_url={e!r}, aws_access_key_id={a!r}, "
                    "aws_secret_access_key={s!r}, region_name='us-east-1')",
           "minio": "from minio import Minio\nc = Minio({h!r}, access_key={a!r}, secret_key={s!r}, secure=False)",
           "obstore": "from obstore.store import S3Store\nc = S3Store('b', endpoint={e!r}, access_key_id={a!r}, "
                      "secret_access_key={s!r}, region='us-east-1', client_options={{'allow_http': True}})"}


# -- measurements ------------------------------------------------------------------------------


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def timed(fn: Callable[[], Any]) -> tuple[float, float, float]:
    """(wall s, cpu s, peak RSS MiB above the start) of one call."""
    base = rss_mib()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib())
            stop.wait(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    stop.set()
    t.join()
    return wall, cpu, peak[0] - base


def per_op(n: int, fn: Callable[[int], Any]) -> dict[str, float]:
    """fn(0) warms up (connection, lazy imports); fn(1..n) is measured."""
    fn(0)
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(1, n + 1):
        fn(i)
    return {"cpu_us": (time.process_time() - c0) / n * 1e6, "wall_ms": (time.perf_counter() - w0) / n * 1e3}


def async_rows(c: Any, a: argparse.Namespace, quick: bool) -> dict[str, Any]:
    """1 KiB PUTs and GETs from 64 and 256 concurrent tasks on one client: ops/s and client
    CPU per op (every thread of the process counted, obstore's tokio runtime included)."""
    import asyncio

    out: dict[str, Any] = {}
    data = os.urandom(1024)
    total = 1000 if quick else 5000
    for conc in (64, 256):
        async def run(conc: int = conc) -> dict[str, Any]:
            put, get, close = await c.async_ops(a, conc)
            res: dict[str, Any] = {}
            for name, fn in (("put", lambda k: put(k, data)), ("get", get)):
                async def worker(w: int, n: int, fn: Any = fn) -> None:
                    for i in range(n):
                        await fn(f"{a.client}/async/{(w * n + i) % 200}")

                await asyncio.gather(*(worker(w, 4) for w in range(conc)))  # warm: connections open
                per = total // conc
                c0, w0 = time.process_time(), time.perf_counter()
                await asyncio.gather(*(worker(w, per) for w in range(conc)))
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                res[f"async{conc}_{name}"] = {"ops_per_s": per * conc / wall, "cpu_us": cpu / (per * conc) * 1e6}
            await close()
            return res

        out.update(asyncio.run(run()))
    return out


def import_ms(client: str, a: argparse.Namespace, runs: int) -> float:
    import subprocess

    host = a.endpoint.split("://", 1)[1]
    code = ("import time\nt0 = time.perf_counter()\n"
            + IMPORTS[client].format(e=a.endpoint, a=a.access_key, s=a.secret_key, h=host)
            + "\nprint((time.perf_counter() - t0) * 1000)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                  env=env).stdout)
             for _ in range(runs + 1)]
    return statistics.median(times[1:])  # the first run writes bytecode caches, as installs do


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("client", choices=sorted(ADAPTERS))
    p.add_argument("--endpoint", required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--large", default="", help="comma list of MiB sizes for upload/download rows")
    a = p.parse_args()
    q = a.quick
    c = ADAPTERS[a.client](a)
    if a.client not in SYNC:
        print(json.dumps({"client": a.client, **async_rows(c, a, q)}))
        return
    out: dict[str, Any] = {"client": a.client, "import_construct_ms": import_ms(a.client, a, 3 if q else 7)}
    n = 100 if q else 500
    data = os.urandom(1024)
    pre = f"{a.client}/small/"
    out["put"] = per_op(n, lambda i: c.put(f"{pre}{i}", data))
    out["get"] = per_op(n, lambda i: c.get(f"{pre}{i}"))
    out["head"] = per_op(n, lambda i: c.head(f"{pre}{i}"))
    out["delete"] = per_op(n, lambda i: c.delete(f"{pre}{i}"))

    nlist = 1000 if q else 5000
    lpre = f"{a.client}/list/"
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda i: c.put(f"{lpre}{i:05d}", b""), range(nlist)))
    c.list(lpre)  # warm: lazy imports and compiled patterns are paid once per process
    runs = []
    for _ in range(3):
        c0, w0 = time.process_time(), time.perf_counter()
        got = c.list(lpre)
        runs.append((time.process_time() - c0, time.perf_counter() - w0))
        assert got == nlist, (got, nlist)
    cpu, wall = sorted(runs)[len(runs) // 2]
    out["list"] = {"keys": nlist, "cpu_s": cpu, "wall_s": wall, "cpu_us_per_key": cpu / nlist * 1e6}

    c.put(f"{a.client}/hot", data)
    total = 2000 if q else 5000
    with ThreadPoolExecutor(32) as ex:
        # warm: 32 threads and their connections exist before the clock starts (steady state)
        list(ex.map(lambda i: c.get(f"{a.client}/hot"), range(320)))
        c0, w0 = time.process_time(), time.perf_counter()
        list(ex.map(lambda i: c.get(f"{a.client}/hot"), range(total)))
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    out["threads32_get"] = {"ops_per_s": total / wall, "cpu_us": cpu / total * 1e6}

    if hasattr(c, "async_ops"):
        out.update(async_rows(c, a, q))

    for mib in [int(x) for x in a.large.split(",") if x]:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
            src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
            with open(src, "wb") as f:
                block = os.urandom(1 << 20)
                for _ in range(mib):
                    f.write(block)
            key = f"{a.client}/large{mib}"
            up = timed(lambda src=src, key=key: c.upload(src, key))
            down = timed(lambda key=key, dst=dst: c.download(key, dst))
            assert os.path.getsize(dst) == mib << 20
            out[f"large{mib}"] = {"upload": dict(zip(("wall_s", "cpu_s", "rss_mib"), up, strict=True)),
                                  "download": dict(zip(("wall_s", "cpu_s", "rss_mib"), down, strict=True))}
            c.delete(key)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
