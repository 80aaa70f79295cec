"""What s3kit writes, boto3 reads byte-exact, and the reverse (incl. odd keys, metadata)."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from s3kit import S3Bucket
from tests.conftest import key_unsupported
from tests.integration.test_core import ODD_KEYS


@pytest.fixture()
def boto(server: object):  # type: ignore[no-untyped-def]
    s = server
    return boto3.client("s3", endpoint_url=s.endpoint, aws_access_key_id=s.access_key,  # type: ignore[attr-defined]
                        aws_secret_access_key=s.secret_key, region_name="us-east-1",  # type: ignore[attr-defined]
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


def keys_for(server: object) -> list[str]:
    return [k for k in ODD_KEYS if not key_unsupported(server, k)]  # type: ignore[arg-type]


def test_s3kit_writes_boto3_reads(server: object, bucket: S3Bucket, boto) -> None:  # type: ignore[no-untyped-def]
    keys = keys_for(server)
    for i, key in enumerate(keys):
        bucket.put(key, f"{i}:{key}".encode() + bytes(range(256)))
    listed = []
    for page in boto.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert sorted(listed) == sorted(keys)
    for i, key in enumerate(keys):
        got = boto.get_object(Bucket=bucket.name, Key=key)
        assert got["Body"].read() == f"{i}:{key}".encode() + bytes(range(256))
        # SeaweedFS replaces application/octet-stream by a type guessed from the key's
        # extension (for boto3's own uploads too)
        if server.name != "seaweed" or "." not in key:  # type: ignore[attr-defined]
            assert got["ContentType"] == "application/octet-stream"


def test_boto3_writes_s3kit_reads(server: object, bucket: S3Bucket, boto) -> None:  # type: ignore[no-untyped-def]
    keys = keys_for(server)
    for i, key in enumerate(keys):
        boto.put_object(Bucket=bucket.name, Key=key, Body=f"b{i}".encode() * 100)
    assert sorted(bucket.list_objects()) == sorted(keys)
    for i, key in enumerate(keys):
        assert bucket.get(key) == f"b{i}".encode() * 100
