"""Flexible checksums: choice per endpoint, values, and what goes on the wire."""

from __future__ import annotations

import base64
import hashlib
import io
import zlib

import pytest

import s3kit
from s3kit import S3Client, crc
from s3kit.integrity import Checksum, choose
from tests.fakes import FakeS3, Reply, Req


def test_choice_per_endpoint() -> None:
    # AWS: CRC64NVME when it runs at memory speed here (s3kit[fast]), else CRC32
    assert choose(None, aws_endpoint=True) == ("crc64nvme" if crc.fast("crc64nvme") else "crc32")
    assert choose(None, aws_endpoint=False) is None  # S3-compatible stores are not sent any
    assert choose(False, aws_endpoint=True) is None and choose("none", True) is None
    assert choose("SHA256", False) == "sha256"
    with pytest.raises(s3kit.InvalidArgument):
        choose("md4", False)


def test_values() -> None:
    for alg, want in (("crc32", zlib.crc32(b"hello world").to_bytes(4, "big")),
                      ("sha256", hashlib.sha256(b"hello world").digest()),
                      ("sha1", hashlib.sha1(b"hello world").digest())):
        c = Checksum(alg)
        c.update(b"hello ")
        c.update(memoryview(b"world"))
        assert c.value() == base64.b64encode(want).decode() and c.header == f"x-amz-checksum-{alg}"


def _handler(req: Req) -> Reply:
    if req.method == "POST" and req.path.endswith("?uploads="):
        return Reply(200, b"<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>")
    if req.method == "PUT":
        return Reply(200, b"", {"ETag": f'"{hashlib.md5(req.body).hexdigest()}"'})
    return Reply(200, b"<CompleteMultipartUploadResult><ETag>&quot;x-2&quot;</ETag></CompleteMultipartUploadResult>")


def test_checksums_on_the_wire() -> None:
    part = 5 * 1024 * 1024
    data = bytes(range(256)) * (part // 256) + b"tail"
    with FakeS3(_handler) as fake:
        b = S3Client(fake.endpoint, "a", "b").bucket("bk")
        b.put("plain", b"abc")
        assert not any(h.startswith("x-amz-checksum") for h in fake.requests[-1].headers)  # not AWS: none
        b.put("k", b"abc", checksum="crc32")
        assert fake.requests[-1].headers["x-amz-checksum-crc32"] == base64.b64encode(
            zlib.crc32(b"abc").to_bytes(4, "big")).decode()
        fake.requests.clear()
        b.upload_fileobj(io.BytesIO(data), "mp", part_size=part, checksum="sha256")
        init, done = fake.requests[0], fake.requests[-1]
        (p1,) = [r for r in fake.requests if "partNumber=1&" in r.path]  # parts arrive in any order
        assert init.headers["x-amz-checksum-algorithm"] == "SHA256"
        want1 = base64.b64encode(hashlib.sha256(data[:part]).digest()).decode()
        assert p1.headers["x-amz-checksum-sha256"] == want1
        assert f"<ChecksumSHA256>{want1}</ChecksumSHA256>".encode() in done.body
