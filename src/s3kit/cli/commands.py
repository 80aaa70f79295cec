"""The commands. Each ``cmd_*`` takes the Context and returns an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import Any, NamedTuple

from ..client import S3Client
from ..errors import NoSuchKey, S3Error
from ..models import ObjectInfo
from .escape import escape
from .filters import Filters, relative_name
from .paths import S3Path, UsageError, dir_prefix, human, is_s3, parse_s3, safe_local_path
from .progress import Cancelled, Display
from .walk import LocalFile, walk

Loc = str | S3Path  # a local path, "-" or an S3 location


class Context:
    """Parsed arguments, the client (made on first use), output and failure counting.

    Every human-readable line goes out through ``out``, ``info``, ``event``, ``warn`` or
    ``fail``, which escape control characters (see escape.py): keys and file names are
    data from elsewhere, and must not drive the user's terminal. ``--json`` lines go out
    through ``out_exact``: JSON escapes controls itself and must carry the exact name.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.concurrency = max(1, args.concurrency or 8)
        self.quiet = bool(args.quiet)
        self.json = bool(getattr(args, "json", False))
        self.filters = Filters(getattr(args, "filters", None) or [])
        self.follow_symlinks = bool(getattr(args, "follow_symlinks", True))
        self.show_progress = not (args.quiet or args.no_progress) and sys.stderr.isatty()
        self.failures = 0
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> S3Client:
        if self._client is None:
            a = self.args
            self._client = S3Client(a.endpoint_url, region=a.region, profile=a.profile,
                                    verify=not a.no_verify_ssl,
                                    max_connections=max(64, self.concurrency * self.concurrency))
        return self._client

    def _write(self, stream: Any, line: str) -> None:
        # transfers report from worker threads: one write per line, under one lock, so
        # lines never interleave (print() writes the text and the newline separately)
        with self._lock:
            stream.write(line + "\n")
            if stream is sys.stderr:
                stream.flush()

    def out(self, line: str) -> None:
        self._write(sys.stdout, escape(line))

    def out_exact(self, line: str) -> None:
        self._write(sys.stdout, line)

    def info(self, line: str) -> None:
        if not self.quiet:
            self._write(sys.stdout, escape(line))

    def event(self, action: str, src: Loc, dst: Loc | None = None, *, dryrun: bool = False) -> None:
        """One transfer or deletion done (or, with --dryrun, to be done)."""
        if self.quiet:
            return
        if self.json:
            rec: dict[str, Any] = {"action": action}
            if dst is None:
                rec["path"] = str(src)
            else:
                rec.update(src=str(src), dst=str(dst))
            rec["dryrun"] = dryrun
            self._write(sys.stdout, json.dumps(rec))
            return
        line = f"{action}: {src}" if dst is None else f"{action}: {src} to {dst}"
        self._write(sys.stdout, escape(f"(dryrun) {line}" if dryrun else line))

    def warn(self, line: str) -> None:
        """Something skipped that is not a failure (aws-cli prints such warnings too)."""
        self._write(sys.stderr, escape(f"s3kit: warning: {line}"))

    def fail(self, line: str) -> None:
        with self._lock:
            self.failures += 1
        self._write(sys.stderr, escape(f"s3kit: {line}"))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def run(ctx: Context) -> int:
    cmd = ctx.args.command
    code = COMMANDS[cmd](ctx)
    sys.stdout.flush()
    return code or (1 if ctx.failures else 0)


# -- listing -------------------------------------------------------------------------------


def _date(d: datetime | None) -> str:
    return d.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if d else " " * 19


def cmd_ls(ctx: Context) -> int:
    a = ctx.args
    if not a.path:
        for b in ctx.client.list_buckets():
            if a.json:
                created = b.creation_date.isoformat() if b.creation_date else None
                ctx.out_exact(json.dumps({"bucket": b.name, "created": created}))
            else:
                ctx.out(f"{_date(b.creation_date)} {b.name}")
        return 0
    loc = parse_s3(a.path)
    bucket = ctx.client.bucket(loc.bucket)

    def size(n: int) -> str:
        return f"{human(n):>10}" if a.human_readable else f"{n:>10}"

    def show(o: ObjectInfo) -> None:
        if a.json:
            ctx.out_exact(json.dumps({"key": o.key, "size": o.size, "etag": o.etag,
                                      "last_modified": o.last_modified.isoformat() if o.last_modified else None,
                                      "storage_class": o.storage_class}))
        else:
            ctx.out(f"{_date(o.last_modified)} {size(o.size)} {o.key if a.recursive else o.key[len(base):]}")

    base = loc.key[: loc.key.rfind("/") + 1]
    if a.recursive:
        # a plain key prefix, as `aws s3 ls --recursive s3://b/logs` (logs-old/x too): listing
        # is harmless, and it is the one way to see every key starting with a string
        for o in bucket.iter_objects(loc.key):
            show(o)
        return 0
    # one level, as `aws s3 ls s3://b/logs`: PRE logs/, PRE logs-old/, logs, logs.txt, ...
    listing = bucket.list_dir(loc.key)
    for p in listing.prefixes:
        if a.json:
            ctx.out_exact(json.dumps({"prefix": p}))
        else:
            ctx.out(f"{'PRE':>30} {p[len(base):]}")
    for o in listing.objects:
        show(o)
    return 0


# -- buckets ---------------------------------------------------------------------------------


def _bucket_only(arg: str) -> str:
    loc = parse_s3(arg)
    if loc.key:
        raise UsageError(f"{arg!r} names an object; give s3://bucket")
    return loc.bucket


def cmd_mb(ctx: Context) -> int:
    name = _bucket_only(ctx.args.path)
    ctx.client.create_bucket(name, region=ctx.args.region)
    ctx.info(f"make_bucket: {name}")
    return 0


def cmd_rb(ctx: Context) -> int:
    name = _bucket_only(ctx.args.path)
    client = ctx.client
    if ctx.args.force:
        bucket = client.get_bucket(name)
        _delete_keys(ctx, bucket, [o.key for o in bucket.iter_objects()], dryrun=False)
        for up in bucket.list_uploads():
            bucket.abort_upload(up.key, up.upload_id)
    client.delete_bucket(name)
    ctx.info(f"remove_bucket: {name}")
    return 0


# -- delete ----------------------------------------------------------------------------------


def _delete_keys(ctx: Context, bucket: Any, keys: list[str], dryrun: bool) -> None:
    if not dryrun and keys:
        try:
            bucket.delete_many(keys)
        except S3Error as e:
            failed = {k for k, _, _ in getattr(e, "failures", [])}
            for k, code, _ in getattr(e, "failures", []):
                ctx.fail(f"delete failed: s3://{bucket.name}/{k}: {code}")
            keys = [k for k in keys if k not in failed]
            if not failed:
                raise
    for k in keys:
        ctx.event("delete", S3Path(bucket.name, k), dryrun=dryrun)


def cmd_rm(ctx: Context) -> int:
    loc = parse_s3(ctx.args.path)
    bucket = ctx.client.bucket(loc.bucket)
    if ctx.args.recursive:
        # s3://b/logs means the directory logs/, as in cp and sync (and aws s3 rm): a plain
        # prefix would also delete logs-old/..., logsx and the object "logs" itself
        prefix = dir_prefix(loc.key)
        keys = [o.key for o in bucket.iter_objects(prefix) if ctx.filters.included(o.key[len(prefix):])]
        _delete_keys(ctx, bucket, keys, ctx.args.dryrun)
        return 0
    if not loc.key:
        raise UsageError("rm needs s3://bucket/key (or --recursive)")
    if not ctx.filters.included(relative_name(loc.key)):
        return 0
    if ctx.args.dryrun:
        if not bucket.exists(loc.key):
            raise NoSuchKey("", bucket=loc.bucket, key=loc.key, status=404)
        ctx.event("delete", loc, dryrun=True)
        return 0
    bucket.delete(loc.key)
    ctx.event("delete", loc)
    return 0


# -- cat / presign ---------------------------------------------------------------------------


def cmd_cat(ctx: Context) -> int:
    loc = parse_s3(ctx.args.path)
    if not loc.key:
        raise UsageError("cat needs s3://bucket/key")
    ctx.client.bucket(loc.bucket).download_fileobj(loc.key, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


def cmd_presign(ctx: Context) -> int:
    loc = parse_s3(ctx.args.path)
    if not loc.key:
        raise UsageError("presign needs s3://bucket/key")
    ctx.out_exact(ctx.client.bucket(loc.bucket).presign(loc.key, method=ctx.args.method, expires=ctx.args.expires))
    return 0


# -- copy / move / sync ----------------------------------------------------------------------


class Item(NamedTuple):
    src: Loc
    dst: Loc
    size: int | None


def _metadata(pairs: list[str]) -> dict[str, str] | None:
    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            raise UsageError(f"--metadata takes KEY=VALUE, got {p!r}")
        out[k] = v
    return out or None


def _content_type(ctx: Context, path: str) -> str | None:
    if ctx.args.content_type:
        return str(ctx.args.content_type)
    import mimetypes

    return mimetypes.guess_type(path)[0]


def _verb(item: Item, move: bool) -> str:
    if isinstance(item.src, S3Path) and isinstance(item.dst, S3Path):
        return "move" if move else "copy"
    return ("move" if move else "upload") if isinstance(item.dst, S3Path) else ("move" if move else "download")


def _transfer(ctx: Context, item: Item, progress: Callable[[int, int | None], None], part_workers: int) -> None:
    src, dst = item.src, item.dst
    client = ctx.client
    meta = _metadata(ctx.args.metadata)
    if isinstance(dst, S3Path):
        bucket = client.bucket(dst.bucket)
        if isinstance(src, S3Path):
            bucket.copy_to(f"{src.bucket}/{src.key}", dst.key, metadata=meta, content_type=ctx.args.content_type)
        elif src == "-":
            bucket.upload_fileobj(sys.stdin.buffer, dst.key, content_type=ctx.args.content_type,
                                  metadata=meta, progress=progress, concurrency=part_workers)
        else:
            bucket.upload_file(src, dst.key, content_type=_content_type(ctx, src), metadata=meta,
                               progress=progress, concurrency=part_workers)
        return
    assert isinstance(src, S3Path)
    bucket = client.bucket(src.bucket)
    if dst == "-":
        bucket.download_fileobj(src.key, sys.stdout.buffer, progress=progress)
        sys.stdout.buffer.flush()
        return
    parent = os.path.dirname(os.path.abspath(dst))
    os.makedirs(parent, exist_ok=True)
    info = bucket.download_file(src.key, dst, progress=progress, concurrency=part_workers)
    if info.last_modified is not None:
        ts = info.last_modified.timestamp()
        os.utime(dst, (ts, ts))


def _remove_source(ctx: Context, item: Item) -> None:
    if isinstance(item.src, S3Path):
        ctx.client.bucket(item.src.bucket).delete(item.src.key)
    elif item.src != "-":
        os.unlink(item.src)


def run_items(ctx: Context, items: list[Item], *, move: bool = False, dryrun: bool = False) -> None:
    """Transfer items in parallel with progress; report each success and failure."""
    if dryrun:
        for it in items:
            ctx.event(_verb(it, move), it.src, it.dst, dryrun=True)
        return
    if not items:
        return
    total = sum(i.size or 0 for i in items) if all(i.size is not None for i in items) else None
    to_stdout = any(i.dst == "-" for i in items)
    display = Display(ctx.show_progress and not to_stdout, len(items), total)
    part_workers = ctx.concurrency if len(items) == 1 else max(2, ctx.concurrency // 2)

    def one(item: Item) -> None:
        name = item.src if isinstance(item.src, str) else item.src.key
        try:
            _transfer(ctx, item, display.file(str(name), item.size), part_workers)
            if move:
                _remove_source(ctx, item)
        except Cancelled:
            return
        except (S3Error, OSError) as e:
            ctx.fail(f"{_verb(item, move)} failed: {item.src} to {item.dst}: {e}")
            return
        if item.dst != "-":
            ctx.event(_verb(item, move), item.src, item.dst)

    ex = ThreadPoolExecutor(min(ctx.concurrency, len(items)), thread_name_prefix="s3kit-cli")
    futures = [ex.submit(one, it) for it in items]
    try:
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            f.result()
    except KeyboardInterrupt:
        # transfers in flight see the flag in their next progress call and clean up
        display.cancel.set()
        for f in futures:
            f.cancel()
        ex.shutdown(wait=True)
        display.close()
        raise
    ex.shutdown(wait=True)
    display.close()


def _local_tree(ctx: Context, root: str) -> tuple[dict[str, LocalFile], set[str]]:
    """The files under a local directory that the filters keep, and the paths skipped with
    a warning (printed here)."""
    tree = walk(root, ctx.follow_symlinks)
    for w in tree.warnings:
        ctx.warn(w)
    return {rel: f for rel, f in tree.files.items() if ctx.filters.included(rel)}, tree.skipped


def _s3_files(ctx: Context, loc: S3Path) -> dict[str, ObjectInfo]:
    """The objects under the directory ``loc`` that the filters keep, by relative key."""
    prefix = dir_prefix(loc.key)
    out = {}
    for o in ctx.client.bucket(loc.bucket).iter_objects(prefix):
        rel = o.key[len(prefix):]
        if rel and not rel.endswith("/") and ctx.filters.included(rel):  # skip "folder" marker objects
            out[rel] = o
    return out


def _protected(rel: str, skipped: set[str]) -> bool:
    """Whether ``rel`` is, or lies under, a source path that was skipped with a warning."""
    if not skipped:
        return False
    parts = rel.split("/")
    return any("/".join(parts[:i]) in skipped for i in range(len(parts) + 1))


def _plan_copy(ctx: Context, src_arg: str, dst_arg: str, recursive: bool) -> list[Item]:
    if is_s3(src_arg):
        src: Loc = parse_s3(src_arg)
    elif src_arg == "-" or os.path.exists(src_arg):
        src = src_arg
    else:
        raise UsageError(f"source {src_arg!r} does not exist")
    dst: Loc = parse_s3(dst_arg) if is_s3(dst_arg) else dst_arg
    if not isinstance(src, S3Path) and not isinstance(dst, S3Path):
        raise UsageError("one of SRC and DST must be an s3:// URL")
    if recursive:
        if src == "-" or dst == "-":
            raise UsageError("--recursive cannot stream from stdin or to stdout")
        return _plan_tree(ctx, src, dst)
    if isinstance(src, str) and src != "-" and os.path.isdir(src):
        raise UsageError(f"{src!r} is a directory (use --recursive)")
    if isinstance(src, S3Path) and (not src.key or src.key.endswith("/")):
        raise UsageError(f"{src} is a prefix (use --recursive)")
    # a single file meets the filters by its name (aws-cli: relative to the directory holding
    # it); a stream has no name and, as in aws-cli, no filters
    if src != "-" and not ctx.filters.included(relative_name(src.key if isinstance(src, S3Path) else
                                                              src.replace(os.sep, "/"))):
        return []
    size: int | None = None
    if isinstance(src, str) and src != "-":
        size = os.path.getsize(src)
    name = os.path.basename(src) if isinstance(src, str) else src.key.rsplit("/", 1)[-1]
    if isinstance(dst, S3Path):
        if src == "-" and (not dst.key or dst.key.endswith("/")):
            raise UsageError("streaming from stdin needs a full destination key")
        if not dst.key or dst.key.endswith("/"):
            dst = dst.join(name)
    elif dst != "-" and (os.path.isdir(dst) or dst.endswith(os.sep)):
        dst = os.path.join(dst, name)
    return [Item(src, dst, size)]


def _plan_tree(ctx: Context, src: Loc, dst: Loc) -> list[Item]:
    """Every item of a recursive copy; an S3 source or destination is a directory."""
    items = []
    if isinstance(src, str):
        if not os.path.isdir(src):
            raise UsageError(f"{src!r} is not a directory")
        assert isinstance(dst, S3Path)
        base = S3Path(dst.bucket, dir_prefix(dst.key))
        files, _ = _local_tree(ctx, src)
        return [Item(f.path, base.join(rel), f.size) for rel, f in sorted(files.items())]
    if isinstance(dst, str) and not ctx.args.dryrun:
        os.makedirs(dst, exist_ok=True)  # even when nothing matches, as aws-cli does (and sync here)
    for rel, o in _s3_files(ctx, src).items():
        if isinstance(dst, S3Path):
            items.append(Item(S3Path(src.bucket, o.key), S3Path(dst.bucket, dir_prefix(dst.key) + rel), o.size))
            continue
        target = safe_local_path(dst, rel)
        if target is None:
            ctx.fail(f"skipping s3://{src.bucket}/{o.key}: it would be written outside {dst!r}")
            continue
        items.append(Item(S3Path(src.bucket, o.key), target, o.size))
    return items


def cmd_cp(ctx: Context, move: bool = False) -> int:
    a = ctx.args
    items = _plan_copy(ctx, a.src, a.dst, a.recursive)
    run_items(ctx, items, move=move, dryrun=a.dryrun)
    return 0


def cmd_mv(ctx: Context) -> int:
    return cmd_cp(ctx, move=True)


# -- sync: the filters choose on both sides, so an excluded file is neither copied nor
# deleted (aws-cli: "files excluded by filters are excluded from deletion")


def _sync_up(ctx: Context, src: str, dst: S3Path) -> tuple[list[Item], list[Loc]]:
    if not os.path.isdir(src):
        raise UsageError(f"{src!r} is not a directory")
    local, skipped = _local_tree(ctx, src)
    remote = _s3_files(ctx, dst)
    base = S3Path(dst.bucket, dir_prefix(dst.key))
    items = []
    for rel, f in sorted(local.items()):
        o = remote.get(rel)
        if o is None or o.size != f.size or (o.last_modified is not None and f.mtime > o.last_modified.timestamp()):
            items.append(Item(f.path, base.join(rel), f.size))
    # a source file skipped with a warning (a broken link, say) is unknown, not deleted
    deletions: list[Loc] = [base.join(r) for r in sorted(remote) if r not in local and not _protected(r, skipped)]
    return items, deletions


def _sync_s3(ctx: Context, src: S3Path, dst: S3Path) -> tuple[list[Item], list[Loc]]:
    remote, theirs = _s3_files(ctx, src), _s3_files(ctx, dst)
    base = S3Path(dst.bucket, dir_prefix(dst.key))
    items = []
    for rel, o in sorted(remote.items()):
        t = theirs.get(rel)
        if t is None or t.size != o.size or t.etag != o.etag:
            items.append(Item(S3Path(src.bucket, o.key), base.join(rel), o.size))
    deletions: list[Loc] = [base.join(r) for r in sorted(theirs) if r not in remote]
    return items, deletions


def _sync_down(ctx: Context, src: S3Path, dst: str) -> tuple[list[Item], list[Loc]]:
    os.makedirs(dst, exist_ok=True)
    remote = _s3_files(ctx, src)
    local, _ = _local_tree(ctx, dst)
    items = []
    for rel, o in sorted(remote.items()):
        target = safe_local_path(dst, rel)
        if target is None:
            ctx.fail(f"skipping s3://{src.bucket}/{o.key}: it would be written outside {dst!r}")
            continue
        have = local.get(rel)
        lm = o.last_modified.timestamp() if o.last_modified else 0.0
        if have is None or have.size != o.size or lm > have.mtime + 1:
            items.append(Item(S3Path(src.bucket, o.key), target, o.size))
    deletions: list[Loc] = [local[r].path for r in sorted(local) if r not in remote]
    return items, deletions


def _delete_all(ctx: Context, targets: list[Loc], dryrun: bool) -> None:
    for d in targets:
        if dryrun:
            ctx.event("delete", d, dryrun=True)
            continue
        try:
            if isinstance(d, S3Path):
                ctx.client.bucket(d.bucket).delete_many([d.key])
            else:
                os.unlink(d)
        except (S3Error, OSError) as e:
            ctx.fail(f"delete failed: {d}: {e}")
            continue
        ctx.event("delete", d)


def cmd_sync(ctx: Context) -> int:
    a = ctx.args
    src_s3, dst_s3 = is_s3(a.src), is_s3(a.dst)
    if not (src_s3 or dst_s3):
        raise UsageError("one of SRC and DST must be an s3:// URL")
    if not src_s3:
        items, deletions = _sync_up(ctx, a.src, parse_s3(a.dst))
    elif dst_s3:
        items, deletions = _sync_s3(ctx, parse_s3(a.src), parse_s3(a.dst))
    else:
        items, deletions = _sync_down(ctx, parse_s3(a.src), a.dst)
    run_items(ctx, items, dryrun=a.dryrun)
    if a.delete:
        _delete_all(ctx, deletions, a.dryrun)
    return 0


COMMANDS: dict[str, Callable[[Context], int]] = {
    "ls": cmd_ls, "mb": cmd_mb, "rb": cmd_rb, "cp": cmd_cp, "mv": cmd_mv, "rm": cmd_rm,
    "cat": cmd_cat, "presign": cmd_presign, "sync": cmd_sync,
}
