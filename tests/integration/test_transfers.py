"""Large objects: multipart round trips, streams, resume, atomic and verified downloads."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import s3kit
from s3kit import Retry, S3Bucket, S3Client, transfer
from s3kit import operations as ops
from tests.conftest import ROOT, is_async, make_client
from tests.faults.proxy import FaultProxy

MiB = 1 << 20
PART = 5 * MiB  # the smallest part S3 allows, to keep tests quick


def pattern(n: int, seed: int = 0) -> bytes:
    import hashlib

    block = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(2048))  # 64 KiB
    return (block * (n // len(block) + 1))[:n]


class OneShot(io.RawIOBase):
    """A non-seekable stream of unknown length that returns short reads."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = min(len(b), 100_000, len(self.data) - self.pos)
        b[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def proxy_for(server: object, **kw: object) -> FaultProxy:
    u = urlsplit(server.endpoint)  # type: ignore[attr-defined]
    return FaultProxy((u.hostname, u.port), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 3 * PART + 123])
def test_file_roundtrip_sizes(bucket: S3Bucket, tmp_path: Path, size: int) -> None:
    data = pattern(size, size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    r = bucket.upload_file(str(src), "obj", part_size=PART, progress=lambda d, t: seen.append((d, t)))
    parts = -(-size // PART) if size > PART else 0
    assert r.etag.endswith(f"-{parts}") if parts else "-" not in r.etag
    assert seen[-1] == (size, size) or size == 0
    info = bucket.head("obj")
    assert info.size == size and info.etag == r.etag
    dst = tmp_path / "dst.bin"
    got = bucket.download_file("obj", str(dst))
    assert dst.read_bytes() == data and got.size == size
    buf = io.BytesIO()
    bucket.download_fileobj("obj", buf)
    assert buf.getvalue() == data
    assert bucket.get("obj") == data
    assert sorted(os.listdir(tmp_path)) == ["dst.bin", "src.bin"]  # no temp files left


@pytest.mark.parametrize("size", [0, PART - 1, 2 * PART + 7])
def test_stream_uploads_unknown_length(bucket: S3Bucket, size: int) -> None:
    data = pattern(size, 7)
    r = bucket.upload_fileobj(OneShot(data), "s", part_size=PART)
    assert bucket.get("s") == data and ("-" in r.etag) == (size >= PART)
    bucket.put("p", OneShot(data))  # put() takes streams too
    assert bucket.get("p") == data


def test_open_streaming_reader(bucket: S3Bucket) -> None:
    data = pattern(2 * PART + 11, 3)
    bucket.upload_fileobj(io.BytesIO(data), "o", part_size=PART)
    with bucket.open("o") as f:
        assert f.read(10) == data[:10]
        assert f.tell() == 10
        f.seek(PART + 5)
        assert f.read(100) == data[PART + 5:PART + 105]
        f.seek(-7, io.SEEK_END)
        assert f.read() == data[-7:]
        f.seek(0)
        assert f.read() == data
    bucket.put("lines", b"a\nbb\nccc")
    with bucket.open("lines") as f:
        assert list(f) == [b"a\n", b"bb\n", b"ccc"]


def test_multipart_download_verified_via_layout(bucket: S3Bucket, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = pattern(3 * PART, 9)
    bucket.upload_fileobj(io.BytesIO(data), "mp", part_size=PART)
    info = bucket.head("mp")
    assert bucket._run(transfer.part_layout(bucket._engine, bucket.name, info)) == transfer.PartLayout(PART, 1000)
    monkeypatch.setattr(transfer, "PARALLEL_DOWNLOAD_MIN", 1)  # exercise parallel ranges too
    bucket.download_file("mp", str(tmp_path / "par.bin"), concurrency=4)
    assert (tmp_path / "par.bin").read_bytes() == data


@pytest.mark.parametrize("parallel", [False, True], ids=["stream", "parallel-ranges"])
def test_flipped_byte_is_detected_and_retried(server: object, bucket: S3Bucket, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, parallel: bool) -> None:
    if parallel:
        monkeypatch.setattr(transfer, "PARALLEL_DOWNLOAD_MIN", 1)
    data = pattern(PART + 3, 4)
    bucket.put("small", data[:1000])
    bucket.upload_fileobj(io.BytesIO(data), "mp", part_size=PART)
    with proxy_for(server) as proxy:
        c = S3Client(proxy.endpoint, server.access_key, server.secret_key,  # type: ignore[attr-defined]
                     retry=Retry(max_attempts=1))
        b = c.bucket(bucket.name)
        proxy.force("flip_byte")
        with pytest.raises(s3kit.ChecksumMismatch):
            b.get("small")
        for key in ("small", "mp"):
            # in parallel mode the first GET of "mp" only shows it is large and is dropped
            # for ranged GETs (its bytes are never used): a second flip lands on a range
            proxy.force("flip_byte", 2 if parallel and key == "mp" else 1)
            with pytest.raises(s3kit.ChecksumMismatch):
                b.download_file(key, str(tmp_path / "out"))
            assert os.listdir(tmp_path) == []  # no target, no temp file
        for key in ("small", "mp"):  # open(): the last read raises instead of returning EOF
            proxy.force("flip_byte")
            with pytest.raises(s3kit.ChecksumMismatch), b.open(key) as f:
                f.read()
        c2 = S3Client(proxy.endpoint, server.access_key, server.secret_key,  # type: ignore[attr-defined]
                      retry=Retry(base=0.001))
        proxy.force("flip_byte")
        assert c2.bucket(bucket.name).get("small") == data[:1000]
        proxy.force("flip_byte")
        c2.bucket(bucket.name).download_file("mp", str(tmp_path / "ok"))
        assert (tmp_path / "ok").read_bytes() == data
        assert proxy.injected["flip_byte"] == (8 if parallel else 7)


def test_interrupted_download_leaves_no_file(server: object, bucket: S3Bucket, tmp_path: Path) -> None:
    data = pattern(2 * PART, 5)
    bucket.put("big", data)
    with proxy_for(server) as proxy:
        c = S3Client(proxy.endpoint, server.access_key, server.secret_key,  # type: ignore[attr-defined]
                     retry=Retry(max_attempts=1))
        proxy.force("reset_mid_body")
        with pytest.raises(s3kit.S3Error):
            c.bucket(bucket.name).download_file("big", str(tmp_path / "t.bin"))
        assert os.listdir(tmp_path) == []
        # with retries, the break is survived by resuming at the failed offset
        c2 = S3Client(proxy.endpoint, server.access_key, server.secret_key,  # type: ignore[attr-defined]
                      retry=Retry(base=0.001))
        proxy.force("truncated")
        c2.bucket(bucket.name).download_file("big", str(tmp_path / "t.bin"))
        assert (tmp_path / "t.bin").read_bytes() == data

    if is_async(bucket):
        return  # Ctrl-C interrupts the sync client; the async one is cancelled (test_async.py)

    def stop(done: int, total: int | None) -> None:
        if done > PART:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bucket.download_file("big", str(tmp_path / "ctrl-c.bin"), progress=stop)
    assert os.listdir(tmp_path) == ["t.bin"]


def test_failed_upload_aborts_multipart(server: object, bucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(pattern(3 * PART, 1))
    with proxy_for(server) as proxy:
        c = S3Client(proxy.endpoint, server.access_key, server.secret_key,  # type: ignore[attr-defined]
                     retry=Retry(max_attempts=1))
        b = c.bucket(bucket.name)
        real = transfer.MultipartUpload.upload_part

        def failing(self, n, data):  # type: ignore[no-untyped-def]
            if n == 2:  # the initiate and part 1 go through; part 2 meets a 500
                proxy.force("internal_500")
            return real(self, n, data)

        transfer.MultipartUpload.upload_part = failing  # type: ignore[method-assign]
        try:
            with pytest.raises(s3kit.S3Error) as ei:
                b.upload_file(str(src), "k", part_size=PART, concurrency=1)
        finally:
            transfer.MultipartUpload.upload_part = real  # type: ignore[method-assign]
        assert ei.value.code == "InternalError"
    assert bucket.list_uploads() == []
    with pytest.raises(s3kit.NoSuchKey):
        bucket.head("k")

    if is_async(bucket):
        return  # Ctrl-C interrupts the sync client; the async one is cancelled (test_async.py)

    def interrupt(done: int, total: int | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bucket.upload_file(str(src), "k2", part_size=PART, progress=interrupt)
    assert bucket.list_uploads() == []


RESUME_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {src!r})
    from s3kit import S3Client
    c = S3Client({endpoint!r}, {ak!r}, {sk!r})
    def die(done, total):
        if done >= 2 * {part}:
            os._exit(9)  # like kill -9: no cleanup at all
    c.bucket({bucket!r}).upload_file({path!r}, "resumable", part_size={part}, concurrency=1,
                                      resume=True, progress=die)
    print("finished without dying")
""")


def test_killed_upload_resumes_with_missing_parts_only(server: object, bucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    data = pattern(4 * PART + 99, 11)
    src.write_bytes(data)
    s = server
    script = RESUME_SCRIPT.format(src=os.path.join(ROOT, "src"), endpoint=s.endpoint, ak=s.access_key,  # type: ignore[attr-defined]
                                  sk=s.secret_key, part=PART, bucket=bucket.name, path=str(src))  # type: ignore[attr-defined]
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stdout + proc.stderr
    (left,) = bucket.list_uploads()
    stored = bucket.list_parts("resumable", left.upload_id)
    assert len(stored) >= 2

    sent: list[int] = []
    real = transfer.MultipartUpload.upload_part

    def counting(self, n, d):  # type: ignore[no-untyped-def]
        sent.append(n)
        return real(self, n, d)

    transfer.MultipartUpload.upload_part = counting  # type: ignore[method-assign]
    try:
        bucket.upload_file(str(src), "resumable", part_size=PART, resume=True)
    finally:
        transfer.MultipartUpload.upload_part = real  # type: ignore[method-assign]
    assert sorted(sent) == [n for n in range(1, 6) if n not in {p.number for p in stored}]
    assert bucket.get("resumable") == data
    assert bucket.list_uploads() == []


def test_resume_with_changed_file_starts_over(bucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(pattern(2 * PART + 1, 1))
    upload_id = bucket._run(ops.initiate_upload(bucket._engine, bucket.name, "k",
                                                {"content-type": "application/octet-stream"}))
    stale = transfer.MultipartUpload(bucket._engine, bucket.name, "k", upload_id)
    bucket._run(stale.upload_part(1, pattern(PART, 999)))  # not what the local file holds
    bucket.upload_file(str(src), "k", part_size=PART, resume=True)
    assert bucket.get("k") == src.read_bytes()
    assert bucket.list_uploads() == []


def test_part_size_planning() -> None:
    assert transfer.plan_part_size(10) == 8 * MiB
    assert transfer.plan_part_size(80_000 * MiB) == 8 * MiB
    assert transfer.plan_part_size(80_001 * MiB) == 16 * MiB
    five_tib = 5 * 1024 * 1024 * MiB
    ps = transfer.plan_part_size(five_tib)
    assert -(-five_tib // ps) <= 10_000 and ps <= 5 * 1024 * MiB
    with pytest.raises(s3kit.InvalidArgument):
        transfer.plan_part_size(10, 1 * MiB)
    layout = transfer.PartLayout(PART, 2)
    assert [b - a + 1 for a, b in layout.spans(7 * PART)] == [PART, PART, 2 * PART, 2 * PART, PART]


MEMORY_SCRIPT = textwrap.dedent("""
    import os, resource, sys
    sys.path.insert(0, {src!r})
    from s3kit import S3Client
    def rss_mib():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    c = S3Client({endpoint!r}, {ak!r}, {sk!r})
    b = c.bucket({bucket!r})
    c.list_buckets()  # warm up imports and a connection
    import concurrent.futures, hashlib, tempfile, s3kit.transfer, s3kit.streams, xml.etree.ElementTree
    base = rss_mib()
    peak = [0.0]
    import threading
    stop = threading.Event()
    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib()); stop.wait(0.01)
    t = threading.Thread(target=sample); t.start()
    b.upload_file({path!r}, "gig")
    up = peak[0] - base
    peak[0] = 0.0
    b.download_file("gig", {path!r} + ".back")
    down = peak[0] - base
    stop.set(); t.join()
    print(f"{{up:.1f}} {{down:.1f}}")
""")


def test_one_gib_transfers_stay_in_bounded_memory(ceph_server: object, tmp_path: Path) -> None:
    s = ceph_server
    client = make_client(s)  # type: ignore[arg-type]
    from tests.conftest import empty_and_delete, unique_bucket_name

    name = unique_bucket_name("mem")
    client.create_bucket(name)
    src = tmp_path / "gig.bin"
    with open(src, "wb") as f:
        block = os.urandom(MiB)
        for _ in range(1024):
            f.write(block)
    try:
        script = MEMORY_SCRIPT.format(src=os.path.join(ROOT, "src"), endpoint=s.endpoint,  # type: ignore[attr-defined]
                                      ak=s.access_key, sk=s.secret_key, bucket=name, path=str(src))  # type: ignore[attr-defined]
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        up, down = map(float, proc.stdout.split())
        print(f"RSS above baseline: upload {up:.1f} MiB, download {down:.1f} MiB")
        assert up < 64 and down < 64
        assert os.path.getsize(str(src) + ".back") == 1024 * MiB
    finally:
        empty_and_delete(client, name)


def test_forced_crc32_does_not_break_compatible_servers(bucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "c.bin"
    data = pattern(2 * PART + 5, 21)
    src.write_bytes(data)
    bucket.upload_file(str(src), "ck", part_size=PART, checksum="crc32")
    bucket.put("small", b"abc", checksum="sha256")
    assert bucket.get("ck") == data and bucket.get("small") == b"abc"


def test_multipart_keys_with_control_characters(server: object, bucket: S3Bucket, tmp_path: Path) -> None:
    """Ceph RGW answers ``<Key>a&#x1b;b</Key>`` (invalid XML 1.0) and moto writes the raw
    byte: the upload must complete, and the listing of uploads must still parse (it used to
    raise and orphan the upload)."""
    src = tmp_path / "f.bin"
    data = pattern(PART + 7, 3)
    src.write_bytes(data)
    keys = ["mp\x1bkey", "bell\x07/x", "tab\tand\nnewline"]
    if server.name == "moto":  # type: ignore[attr-defined]
        keys.pop()  # moto's URL router answers 404 for a path holding a newline
    for key in keys:
        bucket.upload_file(str(src), key, part_size=PART)
        assert bucket.get(key) == data
    assert bucket.list_uploads() == []
    assert sorted(bucket.list_objects()) == sorted(keys)


def test_low_level_multipart_upload(bucket: S3Bucket) -> None:
    parts = [pattern(PART, 1), pattern(PART, 2), b"the tail"]
    with bucket.create_multipart_upload("mp", content_type="text/x-parts", metadata={"who": "me"}) as up:
        assert up.key == "mp" and up.upload_id
        for n, data in enumerate(parts, 1):
            assert len(up.upload_part(n, memoryview(data))) >= 32
        result = up.complete()
    assert result.etag.endswith("-3") and bucket.get("mp") == b"".join(parts)
    info = bucket.head("mp")
    assert info.content_type == "text/x-parts" and info.metadata == {"who": "me"}

    with pytest.raises(ZeroDivisionError):  # an error inside: the upload is aborted
        with bucket.create_multipart_upload("mp2") as up:
            up.upload_part(1, pattern(PART, 3))
            1 / 0  # noqa: B018
    with bucket.create_multipart_upload("mp3") as up:  # never completed: aborted too
        up.upload_part(1, b"x")
    assert bucket.list_uploads() == [] and not bucket.exists("mp2") and not bucket.exists("mp3")

    with bucket.create_multipart_upload("mp4") as up:
        for bad in (0, 10_001, True, "1"):
            with pytest.raises((s3kit.InvalidArgument, s3kit.InvalidType)):
                up.upload_part(bad, b"x")  # type: ignore[arg-type]
        with pytest.raises(s3kit.InvalidType):
            up.upload_part(1, "text")  # type: ignore[arg-type]
        up.abort()
    assert bucket.list_uploads() == []


def test_failing_destination_stops_a_pipelined_download(bucket: S3Bucket) -> None:
    """Large downloads hash and write on a worker thread behind the socket: its failure
    (a full disk, a closed pipe) surfaces in the caller, and no thread is left behind."""
    import threading

    bucket.put("big", pattern(12 * MiB, 8))
    before = threading.active_count()

    class Full(io.RawIOBase):
        def __init__(self) -> None:
            self.n = 0

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
            self.n += len(b)
            if self.n > 3 * MiB:
                raise OSError(28, "No space left on device")
            return len(b)

    with pytest.raises(OSError, match="No space left"):
        bucket.download_fileobj("big", Full())
    assert threading.active_count() <= before
    out = io.BytesIO()
    info = bucket.download_fileobj("big", out)  # and the same object downloads fine afterwards
    assert out.getvalue() == pattern(12 * MiB, 8) and info.verified
