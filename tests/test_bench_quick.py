"""The benchmark must keep working: run its quick version once (asserts that it ran, never a speed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_bench_quick_runs(ceph_server: object, tmp_path: Path) -> None:
    s = ceph_server
    out = tmp_path / "quick.json"
    # the peers it can import here (boto3 is a test dependency); `make bench` installs all of them
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--quick", "--no-venv", "--clients", "s3kit,boto3",
         "--endpoint", s.endpoint, "--access-key", s.access_key, "--secret-key", s.secret_key,  # type: ignore[attr-defined]
         "--large", "8", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 KiB GET, CPU us/op" in proc.stdout and "/boto3" in proc.stdout
    data = json.loads(out.read_text())
    assert set(data["mean"]) == {"s3kit", "boto3"} and len(data["passes"]["s3kit"]) == 2
    assert data["mean"]["s3kit"]["list.keys"] == 1000
