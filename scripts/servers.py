"""Start and stop the local S3 servers used by the tests, the demo and the benchmark.

Both bind 127.0.0.1 only, on free ports, and are stopped by the context manager that
started them:

    with servers.ceph() as srv:      # Ceph RGW (Debian radosgw), via scripts/ceph-rgw.sh
        ...
    with servers.moto() as srv:      # moto server (PyPI moto[server])
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


@contextlib.contextmanager
def any_server() -> Iterator[Server]:
    """Ceph RGW when it is (or can be) installed, else moto."""
    if ceph_available():
        with ceph() as s:
            yield s
    else:
        with moto() as s:
            yield s
