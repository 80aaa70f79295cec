"""Command-line locations: ``s3://bucket/key`` URLs, local paths, and safe joins. Pure."""

from __future__ import annotations

import os
from typing import NamedTuple


class S3Path(NamedTuple):
    bucket: str
    key: str  # may be "" (bucket root) or end with "/" (a prefix)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, rel: str) -> "S3Path":
        if not self.key or self.key.endswith("/"):
            return S3Path(self.bucket, self.key + rel)
        return S3Path(self.bucket, self.key + "/" + rel)


class UsageError(Exception):
    """Bad command-line usage: exit code 2."""


def is_s3(arg: str) -> bool:
    return arg.startswith("s3://")


def parse_s3(arg: str) -> S3Path:
    if not is_s3(arg):
        raise UsageError(f"expected an s3://bucket[/key] URL, got {arg!r}")
    bucket, _, key = arg[5:].partition("/")
    if not bucket:
        raise UsageError(f"no bucket in {arg!r}")
    return S3Path(bucket, key)


def dir_prefix(key: str) -> str:
    """The key prefix of the directory ``key`` names: ``logs`` -> ``logs/``; ``""`` is the bucket.

    A recursive command on ``s3://b/logs`` means the directory ``logs/``, as in ``aws s3``;
    the plain prefix ``logs`` would also take ``logs-old/...``, ``logsx`` and ``logs``.
    """
    return key if not key or key.endswith("/") else key + "/"


def safe_local_path(dest_dir: str, rel: str) -> str | None:
    """``dest_dir/rel`` if it stays inside ``dest_dir``, else None (``../x``, ``/etc/x``)."""
    if not rel or rel.startswith("/") or "\x00" in rel:
        return None
    parts = rel.split("/")
    if any(p == ".." for p in parts):
        # "a/../b" would stay inside, but a key that climbs is never what a user meant
        return None
    base = os.path.realpath(dest_dir)
    target = os.path.realpath(os.path.join(base, *[p for p in parts if p not in ("", ".")]))
    if os.path.commonpath([base, target]) != base or target == base:
        return None
    return target


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
