"""What s3kit writes, boto3 reads byte-exact, and the reverse (incl. odd keys, metadata)."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from s3kit import S3Bucket
from tests.integration.test_core import ODD_KEYS


@pytest.fixture()
def boto(server: object):  # type: ignore[no-untyped-def]
    s = server
    return boto3.client("s3", endpoint_url=s.endpoint, aws_access_key_id=s.access_key,  # type: ignore[attr-defined]
                        aws_secret_access_key=s.secret_key, region_name="us-east-1",  # type: ignore[attr-defined]
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


def test_s3kit_writes_boto3_reads(bucket: S3Bucket, boto) -> None:  # type: ignore[no-untyped-def]
    for i, key in enumerate(ODD_KEYS):
        bucket.put(key, f"{i}:{key}".encode() + bytes(range(256)))
    listed = []
    for page in boto.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert sorted(listed) == sorted(ODD_KEYS)
    for i, key in enumerate(ODD_KEYS):
        got = boto.get_object(Bucket=bucket.name, Key=key)
        assert got["Body"].read() == f"{i}:{key}".encode() + bytes(range(256))
        assert got["ContentType"] == "application/octet-stream"


def test_boto3_writes_s3kit_reads(bucket: S3Bucket, boto) -> None:  # type: ignore[no-untyped-def]
    for i, key in enumerate(ODD_KEYS):
        boto.put_object(Bucket=bucket.name, Key=key, Body=f"b{i}".encode() * 100)
    assert sorted(bucket.list_objects()) == sorted(ODD_KEYS)
    for i, key in enumerate(ODD_KEYS):
        assert bucket.get(key) == f"b{i}".encode() * 100
