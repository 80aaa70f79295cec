"""Integrity on all three servers (issue 15): every checksum algorithm round-trips; the
server rejects corrupted uploads (SeaweedFS checks the CRCs, Ceph RGW the signed SHA-256);
flipped bytes are caught on every read path against the stored checksum (SeaweedFS) and
against s3kit's recorded CRC (Ceph RGW, which stores none); objects written by boto3 are
still verified."""

from __future__ import annotations

import os
import random
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

import s3kit
from s3kit import Retry, S3Bucket, S3Client, crc, transfer
from tests.conftest import client_of, is_async
from tests.faults.proxy import FaultProxy

MiB = 1 << 20
PART = 5 * MiB
ALGS = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]


def pattern(n: int, seed: int) -> bytes:
    block = random.Random(seed).randbytes(4096)
    return (block * (n // len(block) + 1))[:n]


def proxied(server: object, kind: str, **kw: object) -> tuple[FaultProxy, S3Client]:
    u = urlsplit(server.endpoint)  # type: ignore[attr-defined]
    proxy = FaultProxy((u.hostname, u.port))  # type: ignore[arg-type]
    proxy.__enter__()
    c = client_of(kind, proxy.endpoint, server.access_key, server.secret_key, **kw)  # type: ignore[attr-defined]
    return proxy, c


@pytest.mark.parametrize("alg", ALGS)
def test_every_algorithm_round_trips(server: object, bucket: S3Bucket, tmp_path: Path, alg: str) -> None:
    if alg in crc.ALGORITHMS and not crc.fast(alg):
        pytest.skip(f"{alg} needs s3kit[fast] here")
    small = pattern(3000, 1)
    bucket.put("small", small, checksum=alg)
    assert bucket.get("small") == small
    src = tmp_path / "src.bin"
    data = pattern(3 * PART + 77, 2)
    src.write_bytes(data)
    bucket.upload_file(str(src), "multi", part_size=PART, checksum=alg)
    info = bucket.download_file("multi", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == data
    assert info.verified is not None  # checked somehow, on every server
    assert info.verified.startswith("recorded ")  # s3kit's own value, on every server
    if server.name == "seaweed" and alg in crc.ALGORITHMS:  # type: ignore[attr-defined]
        # the checksum oracle stored exactly the values s3kit sent: the part CRCs combined
        # into one FULL_OBJECT value, with no second pass over the data
        for key, body in (("small", small), ("multi", data)):
            c = crc.new(alg)
            c.update(body)
            assert (bucket.head(key).checksums or {}).get(alg) == c.b64(), key


def test_recorded_checksum_on_servers_without_stored_ones(server: object, bucket: S3Bucket, tmp_path: Path) -> None:
    data = pattern(2 * PART + 1, 3)
    (tmp_path / "f").write_bytes(data)
    bucket.upload_file(str(tmp_path / "f"), "k", part_size=PART)  # no flexible checksum asked for
    meta = bucket.head("k").metadata or {}
    alg, _, value = meta["s3kit-checksum"].partition(":")
    c = crc.new(alg)
    c.update(data)
    assert value == c.b64()
    info = bucket.download_file("k", str(tmp_path / "o"))
    assert info.verified == f"recorded {alg}"
    # a caller's copy of s3kit's metadata never describes other bytes
    bucket.put("other", pattern(300_000, 9), metadata=meta)
    assert (bucket.head("other").metadata or {}).get("s3kit-checksum") != meta["s3kit-checksum"]
    assert bucket.get("other") == pattern(300_000, 9)


@pytest.mark.parametrize("server_name", ["seaweed", "ceph"])
def test_server_rejects_a_corrupted_upload(request: pytest.FixtureRequest, kind: str, server_name: str) -> None:
    server = request.getfixturevalue(f"{server_name}_server")
    admin = client_of("sync", server.endpoint, server.access_key, server.secret_key)
    b = admin.create_bucket(f"corrupt-{kind}-{os.getpid()}-{server_name}"[:40])
    proxy, c = proxied(server, kind, retry=Retry(max_attempts=1))
    try:
        pb = c.bucket(b.name)
        # SeaweedFS verifies the CRC it is sent; Ceph RGW the signed payload SHA-256
        checksum = "crc32" if server_name == "seaweed" else None
        proxy.force("flip_request_byte")
        with pytest.raises(s3kit.ChecksumMismatch) as ei:
            pb.put("small", pattern(10_000, 4), checksum=checksum)
        assert ei.value.code in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest")
        assert not b.exists("small")
        proxy.force("flip_request_byte")  # in the middle of a multipart upload
        with pytest.raises(s3kit.ChecksumMismatch):
            pb.put("multi", pattern(2 * PART + 5, 5), checksum=checksum)
        assert not b.exists("multi") and b.list_uploads() == []  # and nothing was left behind
    finally:
        proxy.__exit__(None, None, None)
        for k in b.list_objects():
            b.delete(k)
        admin.delete_bucket(b.name)


@pytest.mark.parametrize("server_name", ["seaweed", "ceph"])
def test_flipped_bytes_are_caught_on_every_read_path(request: pytest.FixtureRequest, kind: str, server_name: str,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects large enough that the MD5 ETag is not what catches it: SeaweedFS against its
    stored CRC64NVME (or CRC32), Ceph RGW against s3kit's recorded CRC."""
    server = request.getfixturevalue(f"{server_name}_server")
    admin = client_of("sync", server.endpoint, server.access_key, server.secret_key)
    b = admin.create_bucket(f"flip-{kind}-{os.getpid()}-{server_name}"[:40])
    data = pattern(3 * PART + 11, 6)
    (tmp_path / "src").write_bytes(data)
    if server_name == "seaweed":
        # written without s3kit's recorded CRC, so the server's stored one is the check:
        # the low-level writer (FULL_OBJECT CRC of the combined parts) and a small put
        checksum = "crc64nvme" if crc.fast("crc64nvme") else "crc32"
        with b.create_multipart_upload("obj", checksum=checksum) as up:
            for n, off in enumerate(range(0, len(data), PART), 1):
                up.upload_part(n, data[off:off + PART])
            up.complete()
        b.put("one", data[:200_000], checksum=checksum)
        small = 200_000
        want = f"stored {checksum}"
    else:  # Ceph RGW stores none: s3kit's recorded CRC
        b.upload_file(str(tmp_path / "src"), "obj", part_size=PART)
        b.put("one", data[:400_000])
        small = 400_000
        want = "recorded "
    monkeypatch.setattr(transfer, "PARALLEL_DOWNLOAD_MIN", 1)
    proxy, c = proxied(server, kind, retry=Retry(max_attempts=1))
    try:
        pb = c.bucket(b.name)
        for read in ("get", "open", "download_fileobj", "download_file", "download_file_parallel"):
            for key in ("one", "obj"):
                # parallel: the first GET only shows the size and is dropped for ranges (its
                # bytes are never used), so a second flip is what lands on a range
                proxy.force("flip_byte", 2 if read == "download_file_parallel" else 1)
                with pytest.raises(s3kit.ChecksumMismatch) as ei:
                    if read == "get":
                        pb.get(key)
                    elif read == "open":
                        with pb.open(key) as f:
                            f.read()
                    elif read == "download_fileobj":
                        with open(tmp_path / "fo", "wb") as fo:
                            pb.download_fileobj(key, fo)
                    else:
                        pb.download_file(key, str(tmp_path / "df"), concurrency=1 if read == "download_file" else 4)
                assert want.split()[0] in str(ei.value), (read, key, str(ei.value))
                assert not (tmp_path / "df").exists()  # never a partial or corrupted file
        # and without the fault every path verifies, saying how
        info = pb.download_file("obj", str(tmp_path / "ok"))
        assert (tmp_path / "ok").read_bytes() == data and info.verified.startswith(want.strip())
        assert pb.get("one") == data[:small]
    finally:
        proxy.__exit__(None, None, None)
        for k in b.list_objects():
            b.delete(k)
        admin.delete_bucket(b.name)


def test_objects_written_by_boto3_are_verified(server: object, bucket: S3Bucket, tmp_path: Path) -> None:
    s = server
    boto = boto3.client("s3", endpoint_url=s.endpoint, aws_access_key_id=s.access_key,  # type: ignore[attr-defined]
                        aws_secret_access_key=s.secret_key, region_name="us-east-1",  # type: ignore[attr-defined]
                        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))
    data = pattern(1_000_000, 7)
    boto.put_object(Bucket=bucket.name, Key="plain", Body=data)  # no s3kit metadata, no checksum
    info = bucket.download_file("plain", str(tmp_path / "p"))
    assert info.verified == "md5 etag" and (tmp_path / "p").read_bytes() == data
    if s.name == "seaweed":  # type: ignore[attr-defined]
        boto.put_object(Bucket=bucket.name, Key="crc", Body=data, ChecksumAlgorithm="CRC32")
        assert bucket.download_file("crc", str(tmp_path / "c")).verified == "stored crc32"
    if not is_async(bucket):
        assert bucket.get("plain") == data
