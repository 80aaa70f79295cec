"""Side-by-side benchmark: s3kit against boto3, minio and obstore, in one run.

    make bench                 # full: starts its own Ceph RGW, 256 MiB and 1 GiB rows
    python bench/run.py --quick            # a small version (under a minute)
    python bench/run.py --endpoint URL --access-key K --secret-key S

Each client runs in its own subprocess (bench/workload.py), all in turn and then again in
reverse order; each metric is the mean of the two passes. Peers are installed into their
own venv (.venv-bench). Prints a table with s3kit/peer ratios and writes JSON beside it.
Loopback only. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "src"))

CLIENTS = ["s3kit", "boto3", "minio", "obstore", "aiobotocore"]
PEER_PACKAGES = ["boto3", "minio", "obstore"]
VENV = os.path.join(ROOT, ".venv-bench")
# aiobotocore pins botocore to a narrow range that the newest boto3 does not accept: in one
# venv pip backtracks for many minutes. It gets its own venv (with s3kit, for the workload).
AIO_VENV = os.path.join(ROOT, ".venv-bench-aio")
AIO_PACKAGES = ["aiobotocore"]
# Installed packages ship compiled bytecode; an editable checkout only has it if Python may
# write it. Every client runs with bytecode caching on, as in a normal installation.
BENCH_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _venv(path: str, packages: list[str]) -> str:
    """The interpreter of a benchmark venv holding s3kit and ``packages`` (made on first use)."""
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
    mods = ", ".join(["s3kit", *packages])
    if subprocess.run([py, "-c", f"import {mods}"], capture_output=True).returncode != 0:
        print(f"installing {', '.join(packages)} into {os.path.basename(path)} ...", file=sys.stderr)
        subprocess.run([py, "-m", "pip", "install", "-q", "-e", ROOT, *packages], check=True)
    return py


def bench_python(use_current: bool) -> dict[str, str]:
    """The interpreter each client runs under."""
    if use_current:
        return {c: sys.executable for c in CLIENTS}
    main = _venv(VENV, PEER_PACKAGES)
    aio = _venv(AIO_VENV, AIO_PACKAGES)
    return {c: aio if c == "aiobotocore" else main for c in CLIENTS}


def available(pys: dict[str, str], clients: list[str]) -> list[str]:
    return [c for c in clients if subprocess.run([pys[c], "-c", f"import {c}"], capture_output=True).returncode == 0]


def run_one(py: str, client: str, srv: Any, quick: bool, large: str) -> dict[str, Any]:
    from s3kit import S3Client

    admin = S3Client(srv.endpoint, srv.access_key, srv.secret_key, "us-east-1")
    bucket = f"bench-{client}-{int(time.time() * 1000) % 10**9}"
    admin.create_bucket(bucket)
    try:
        proc = subprocess.run(
            [py, os.path.join(ROOT, "bench", "workload.py"), client, "--endpoint", srv.endpoint,
             "--access-key", srv.access_key, "--secret-key", srv.secret_key, "--bucket", bucket,
             *(["--quick"] if quick else []), "--large", large],
            capture_output=True, text=True, timeout=1800, env=BENCH_ENV)
        if proc.returncode != 0:
            raise RuntimeError(f"{client} workload failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    finally:
        b = admin.bucket(bucket)
        keys = b.list_objects()
        if keys:
            b.delete_many(keys)
        admin.delete_bucket(bucket)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


# (metric, label, better) -- "lower" or "higher" is better
ROWS = [
    ("import_construct_ms", "import + construct, ms", "lower"),
    ("put.cpu_us", "1 KiB PUT, CPU us/op", "lower"),
    ("get.cpu_us", "1 KiB GET, CPU us/op", "lower"),
    ("head.cpu_us", "HEAD, CPU us/op", "lower"),
    ("delete.cpu_us", "DELETE, CPU us/op (s3kit: HEAD+DELETE)", "lower"),
    ("put.wall_ms", "1 KiB PUT, wall ms/op", "lower"),
    ("get.wall_ms", "1 KiB GET, wall ms/op", "lower"),
    ("head.wall_ms", "HEAD, wall ms/op", "lower"),
    ("delete.wall_ms", "DELETE, wall ms/op", "lower"),
    ("list.cpu_s", "list keys, CPU s", "lower"),
    ("list.cpu_us_per_key", "list, CPU us/key", "lower"),
    ("threads32_get.ops_per_s", "32-thread GET, ops/s", "higher"),
    ("threads32_get.cpu_us", "32-thread GET, CPU us/op", "lower"),
    ("async64_put.ops_per_s", "async 64 tasks 1 KiB PUT, ops/s", "higher"),
    ("async64_put.cpu_us", "async 64 tasks 1 KiB PUT, CPU us/op", "lower"),
    ("async64_get.ops_per_s", "async 64 tasks 1 KiB GET, ops/s", "higher"),
    ("async64_get.cpu_us", "async 64 tasks 1 KiB GET, CPU us/op", "lower"),
    ("async256_put.ops_per_s", "async 256 tasks 1 KiB PUT, ops/s", "higher"),
    ("async256_put.cpu_us", "async 256 tasks 1 KiB PUT, CPU us/op", "lower"),
    ("async256_get.ops_per_s", "async 256 tasks 1 KiB GET, ops/s", "higher"),
    ("async256_get.cpu_us", "async 256 tasks 1 KiB GET, CPU us/op", "lower"),
]


def large_rows(sizes: list[int]) -> list[tuple[str, str, str]]:
    rows = []
    for mib in sizes:
        for way in ("upload", "download"):
            rows += [(f"large{mib}.{way}.wall_s", f"{mib} MiB {way}, wall s", "lower"),
                     (f"large{mib}.{way}.cpu_s", f"{mib} MiB {way}, CPU s", "lower"),
                     (f"large{mib}.{way}.rss_mib", f"{mib} MiB {way}, peak RSS MiB", "lower")]
    return rows


def table(results: dict[str, dict[str, float]], rows: list[tuple[str, str, str]]) -> str:
    clients = list(results)
    peers = [c for c in clients if c != "s3kit"]
    head = f"{'metric':<42}" + "".join(f"{c:>12}" for c in clients) + "".join(f"{'/' + p:>12}" for p in peers)
    lines = [head, "-" * len(head)]
    for key, label, _ in rows:
        vals = [results[c].get(key) for c in clients]
        if all(v is None for v in vals):
            continue
        cells = "".join(f"{v:>12.3f}" if v is not None and v < 10 else f"{v:>12.1f}" if v is not None else f"{'-':>12}"
                        for v in vals)
        ours = results.get("s3kit", {}).get(key)
        ratios = ""
        for p in peers:
            theirs = results[p].get(key)
            ratios += f"{ours / theirs:>12.2f}" if ours is not None and theirs else f"{'-':>12}"
        lines.append(f"{label:<42}{cells}{ratios}")
    lines.append("ratios are s3kit/peer: below 1.00 is better for s3kit, except ops/s (above 1.00 is better)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small version, under a minute")
    p.add_argument("--endpoint")
    p.add_argument("--access-key")
    p.add_argument("--secret-key")
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--no-venv", action="store_true", help="use this interpreter (peers it lacks are skipped)")
    p.add_argument("--large", help="comma list of MiB sizes (default 32 quick, 256,1024 full)")
    p.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "latest.json"))
    a = p.parse_args(argv)
    large = a.large if a.large is not None else ("32" if a.quick else "256,1024")
    pys = bench_python(a.no_venv)
    clients = available(pys, a.clients.split(","))
    if "s3kit" not in clients:
        raise SystemExit("s3kit is not importable by the benchmark interpreter")
    import contextlib

    import servers

    if a.endpoint:
        srv_cm: Any = contextlib.nullcontext(servers.Server("given", a.endpoint, a.access_key, a.secret_key))
    elif servers.ceph_available():
        srv_cm = servers.ceph()
    else:
        raise SystemExit("no Ceph RGW here (run 'make bench' as root, or pass --endpoint)")
    passes: dict[str, list[dict[str, float]]] = {c: [] for c in clients}
    with srv_cm as srv:
        for order in (clients, list(reversed(clients))):
            for c in order:
                t = time.monotonic()
                passes[c].append(flatten(run_one(pys[c], c, srv, a.quick, large)))
                print(f"  {c:<8} pass {len(passes[c])} done in {time.monotonic() - t:.1f} s", file=sys.stderr)
    results = {c: {k: sum(r[k] for r in runs if k in r) / len(runs) for k in runs[0]} for c, runs in passes.items()}
    rows = ROWS + large_rows([int(x) for x in large.split(",") if x])
    text = table(results, rows)
    print(text)
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"quick": a.quick, "clients": clients, "mean": results, "passes": passes,
                   "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, f, indent=1)
    with open(os.path.splitext(a.json)[0] + ".txt", "w") as f:
        f.write(text + "\n")
    print(f"\nwrote {a.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
