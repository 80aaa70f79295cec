"""Servers write control characters in XML as character references that XML 1.0 forbids
(Ceph RGW: ``<Key>mp&#x1b;key</Key>``). They must be read back exactly, never rejected
(which orphaned multipart uploads) and never dropped (html.unescape drops them)."""

from __future__ import annotations

import pytest

from s3kit import xmlcodec

HOSTILE = ["mp\x1bkey", "bell\x07", "nul\x00x", "tab\tok", "cr\rlf\n", "del\x7f", "c1\x85", "ü&<>\"'"]


def _ref(s: str) -> str:
    return "".join(f"&#x{ord(c):x};" if ord(c) < 32 or c in "&<>\"'" else c for c in s)


@pytest.mark.parametrize("key", HOSTILE)
def test_initiate_and_upload_listing_with_control_character_keys(key: str) -> None:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>b</Bucket>'
            f"<Key>{_ref(key)}</Key><UploadId>2~abc</UploadId></InitiateMultipartUploadResult>").encode()
    assert xmlcodec.parse_initiate_multipart(body) == "2~abc"
    listing = (f"<ListMultipartUploadsResult><Upload><Key>{_ref(key)}</Key><UploadId>u1</UploadId>"
               f"<Initiated>2026-11-25T01:00:00.000Z</Initiated></Upload><IsTruncated>false</IsTruncated>"
               f"</ListMultipartUploadsResult>").encode()
    (u,), truncated, _, _ = xmlcodec.parse_list_uploads(listing)
    assert u.key == key and u.upload_id == "u1" and not truncated


@pytest.mark.parametrize("key", HOSTILE)
def test_listing_keys_with_references_keep_every_character(key: str) -> None:
    body = (f'<ListBucketResult xmlns="{xmlcodec.S3_NS}"><IsTruncated>false</IsTruncated><Contents>'
            f"<Key>{_ref(key)}</Key><LastModified>2026-11-25T01:00:00.000Z</LastModified>"
            f"<ETag>&quot;abc&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>"
            f"</ListBucketResult>").encode()
    page = xmlcodec.parse_list_objects_v2(body)
    assert [o.key for o in page.objects] == [key]


def test_error_documents_with_references() -> None:
    body = b"<Error><Code>NoSuchKey</Code><Message>no key a&#x1b;b</Message><Key>a&#x1b;b</Key></Error>"
    assert xmlcodec.parse_error(body).code == "NoSuchKey"
    assert "\x1b" in xmlcodec.parse_error(body).message


def test_dtds_are_still_refused() -> None:
    with pytest.raises(xmlcodec.ProtocolError):
        xmlcodec.parse(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')


def test_raw_control_bytes_as_moto_writes_them() -> None:
    body = b"<ListMultipartUploadsResult><Upload><Key>a\x1bb\x07</Key><UploadId>u</UploadId></Upload></ListMultipartUploadsResult>"
    (u,), _, _, _ = xmlcodec.parse_list_uploads(body)
    assert u.key == "a\x1bb\x07"
