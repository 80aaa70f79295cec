"""Secrets never appear in anything the library emits: logs, errors, reprs."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

import s3kit
from s3kit import Retry, S3Client
from tests.fakes import FakeS3, Reply, error_xml
from tests.faults.proxy import FaultProxy

TOKEN = "SESSIONTOKEN-Zq8Xv-very-secret"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        if record.exc_info:
            self.texts.append(logging.Formatter().formatException(record.exc_info))


def test_secrets_never_emitted(ceph_server: object, tmp_path: object) -> None:
    s = ceph_server
    secret = s.secret_key  # type: ignore[attr-defined]
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    texts: list[str] = []
    try:
        u = urlsplit(s.endpoint)  # type: ignore[attr-defined]
        with FaultProxy((u.hostname, u.port), rate=0.3, seed=3, stall_seconds=0.6) as proxy:  # type: ignore[arg-type]
            c = S3Client(proxy.endpoint, s.access_key, secret, timeout=0.3,  # type: ignore[attr-defined]
                         retry=Retry(max_attempts=2, base=0.001))
            texts += [repr(c), str(c), repr(c.credentials), repr(c.retry)]
            for i in range(60):
                for op in (lambda: c.create_bucket(f"sec-{i % 3}-bucket"), lambda: c.bucket("sec-0-bucket").put("k", b"v"),
                           lambda: c.bucket("sec-0-bucket").get("k"), lambda: c.bucket("nope-bucket").get("k"),
                           lambda: c.bucket("sec-0-bucket").delete("missing"), lambda: c.list_buckets()):
                    try:
                        r = op()
                        texts.append(repr(r))
                    except s3kit.S3Error as e:
                        texts += [str(e), repr(e), e.message]
            url = c.bucket("sec-0-bucket").presign("k")
            sig = url.rsplit("X-Amz-Signature=", 1)[1]
        bad = S3Client(s.endpoint, s.access_key, secret + "x", retry=Retry(max_attempts=1))  # type: ignore[attr-defined]
        with pytest.raises(s3kit.S3Error) as ei:
            bad.list_buckets()
        texts += [str(ei.value), repr(ei.value)]
        with FakeS3(lambda req: Reply(400, error_xml("ExpiredToken", "expired"))) as fake:
            tc = S3Client(fake.endpoint, "AKID", secret, session_token=TOKEN, retry=Retry(max_attempts=2))
            texts += [repr(tc), repr(tc.credentials)]
            with pytest.raises(s3kit.S3Error) as e2:
                tc.bucket("b").get("k")
            texts += [str(e2.value), repr(e2.value)]
            auth = fake.requests[0].headers["authorization"]
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        for i in range(3):
            try:
                cl = S3Client(s.endpoint, s.access_key, secret)  # type: ignore[attr-defined]
                b = cl.bucket(f"sec-{i}-bucket")
                b.delete_many(b.list_objects())
                cl.delete_bucket(b.name)
            except s3kit.S3Error:
                pass
    emitted = "\n".join(texts + handler.texts)
    assert handler.texts, "the run should have logged retries"
    for needle in (secret, TOKEN, sig, auth, auth.rsplit("Signature=", 1)[1]):
        assert needle not in emitted
