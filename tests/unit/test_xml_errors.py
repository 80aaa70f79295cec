"""XML parsing (incl. hostile bodies) and the status/code -> exception mapping."""

from __future__ import annotations

import pickle
from datetime import timezone

import pytest

from s3kit import errors, xmlcodec
from s3kit.errors import error_for

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def test_error_body_parsed() -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
            b"<Message>The specified key does not exist.</Message><Key>a</Key>"
            b"<RequestId>4442587FB7D0A2F9</RequestId></Error>")
    info = xmlcodec.parse_error(body)
    assert (info.code, info.message, info.request_id) == ("NoSuchKey", "The specified key does not exist.",
                                                          "4442587FB7D0A2F9")


def test_non_xml_error_body_is_kept_as_message() -> None:
    info = xmlcodec.parse_error(b"<html>502 Bad Gateway</html")
    assert info.code is None and "502" in info.message
    assert xmlcodec.parse_error(b"upstream timed out").message == "upstream timed out"


def test_billion_laughs_is_refused_fast() -> None:
    lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b']><ListBucketResult>&lol9;</ListBucketResult>')
    with pytest.raises(errors.ProtocolError, match="DTD"):
        xmlcodec.parse_list_objects_v2(lol)


def test_malformed_xml_is_protocol_error() -> None:
    with pytest.raises(errors.ProtocolError):
        xmlcodec.parse_list_objects_v2(b"<ListBucketResult><Contents>")


def test_list_objects_v2_url_decoding_and_fields() -> None:
    body = f"""<ListBucketResult {NS}><Name>b</Name><EncodingType>url</EncodingType>
      <IsTruncated>true</IsTruncated><NextContinuationToken>tok==</NextContinuationToken>
      <Contents><Key>a+b%2Bc%0A%E2%82%AC</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
      <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>
      <StorageClass>STANDARD</StorageClass></Contents>
      <CommonPrefixes><Prefix>photos%2F2006%2F</Prefix></CommonPrefixes></ListBucketResult>""".encode()
    page = xmlcodec.parse_list_objects_v2(body)
    assert page.truncated and page.next_token == "tok=="
    (o,) = page.objects
    assert o.key == "a b+c\n\u20ac"
    assert o.size == 434234 and o.etag == "fba9dede5f27731c9771645a39863328"
    assert o.last_modified is not None and o.last_modified.tzinfo == timezone.utc
    assert o.last_modified.year == 2009 and o.storage_class == "STANDARD"
    assert page.prefixes == ["photos/2006/"]


def test_list_without_namespace_or_encoding() -> None:
    page = xmlcodec.parse_list_objects_v2(
        b"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a+b</Key><Size>1</Size>"
        b"<ETag>x</ETag></Contents></ListBucketResult>")
    assert [o.key for o in page.objects] == ["a+b"] and not page.truncated


def test_error_document_detection() -> None:
    assert xmlcodec.is_error_document(b'<?xml version="1.0"?>\n<Error><Code>InternalError</Code></Error>')
    assert not xmlcodec.is_error_document(b"<CopyObjectResult><ETag>x</ETag></CopyObjectResult>")


def test_delete_body_escapes_and_control_chars() -> None:
    body = xmlcodec.build_delete(["a&b<c", "line\nbreak"]).decode()
    assert "<Key>a&amp;b&lt;c</Key>" in body and "<Key>line&#10;break</Key>" in body
    assert "<Quiet>true</Quiet>" in body


def test_delete_result_errors() -> None:
    body = (f"<DeleteResult {NS}><Deleted><Key>ok</Key></Deleted><Error><Key>bad</Key>"
            "<Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>").encode()
    assert xmlcodec.parse_delete_result(body) == [("bad", "AccessDenied", "Access Denied")]


def test_location_values() -> None:
    assert xmlcodec.parse_location(f"<LocationConstraint {NS}/>".encode()) == "us-east-1"
    assert xmlcodec.parse_location(f"<LocationConstraint {NS}>EU</LocationConstraint>".encode()) == "eu-west-1"
    assert xmlcodec.parse_location(b"<LocationConstraint>ap-south-1</LocationConstraint>") == "ap-south-1"


@pytest.mark.parametrize("status,code,method,key,cls", [
    (404, "NoSuchKey", "GET", "k", errors.NoSuchKey),
    (404, "NoSuchBucket", "GET", "k", errors.NoSuchBucket),
    (404, None, "HEAD", "k", errors.NoSuchKey),
    (404, None, "HEAD", None, errors.NoSuchBucket),
    (403, None, "HEAD", "k", errors.AccessDenied),
    (409, "BucketAlreadyOwnedByYou", "PUT", None, errors.BucketAlreadyExists),
    (409, "BucketNotEmpty", "DELETE", None, errors.BucketNotEmpty),
    (412, None, "HEAD", "k", errors.PreconditionFailed),
    (304, None, "GET", "k", errors.NotModified),
    (416, "InvalidRange", "GET", "k", errors.InvalidRange),
    (400, "BadDigest", "PUT", "k", errors.ChecksumMismatch),
    (500, "Weird", "GET", "k", errors.S3Error),
])
def test_error_mapping(status: int, code: str | None, method: str, key: str | None, cls: type) -> None:
    e = error_for(status, code, "", method=method, request_id="rid", bucket="b", key=key)
    assert type(e) is cls
    assert isinstance(e, errors.S3Error) and e.status == status and e.request_id == "rid"
    assert e.code == (code or e.code) and e.code


def test_retryable_flags() -> None:
    assert error_for(503, "SlowDown", "").retryable
    assert error_for(500, None, "").retryable
    assert error_for(200, "InternalError", "").retryable
    assert not error_for(403, "AccessDenied", "").retryable
    assert not error_for(404, "NoSuchKey", "").retryable


def test_str_is_actionable_and_pickles() -> None:
    e = error_for(404, "NoSuchKey", "The specified key does not exist.", request_id="R1", bucket="b", key="k")
    s = str(e)
    assert "NoSuchKey" in s and "'k'" in s and "'b'" in s and "404" in s and "R1" in s
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is errors.NoSuchKey and e2.key == "k" and e2.status == 404


def test_invalid_input_errors_are_also_builtin_errors() -> None:
    assert issubclass(errors.InvalidBucketName, ValueError)
    assert issubclass(errors.InvalidKey, ValueError)
    assert issubclass(errors.InvalidType, TypeError)
    for cls in (errors.InvalidBucketName, errors.InvalidType, errors.TransportError, errors.ChecksumMismatch):
        assert issubclass(cls, errors.S3Error)


def _slow(body: bytes) -> xmlcodec.ListPage:
    """The ElementTree path, bypassing the regex scanner."""
    decl, sep, rest = body.partition(b"?>")
    return xmlcodec.parse_list_objects_v2(decl + sep + b"<!-- force the full parser -->" + rest)


@pytest.mark.parametrize("pretty", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("key_first_other_order", [False, True])
def test_fast_listing_scanner_matches_the_xml_parser(pretty: bool, shuffle: bool, key_first_other_order: bool) -> None:
    import random

    rng = random.Random(5)
    sep = "\n    " if pretty else ""
    entries = []
    for i in range(300):
        key = "".join(rng.choice("ab/ +%&<>\"'é€\x01") for _ in range(rng.randrange(1, 12)))
        enc = __import__("urllib.parse").parse.quote(key, safe="/")
        fields = [f"<Key>{enc}</Key>", f"<LastModified>2026-11-24T19:40:{i % 60:02d}.{i % 1000:03d}Z</LastModified>",
                  "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>", f"<Size>{i * 7}</Size>",
                  "<Owner><ID>o</ID><DisplayName>d</DisplayName></Owner>", "<StorageClass>STANDARD</StorageClass>"]
        if shuffle and i % 3 == 0:
            fields.reverse()  # Key last: the scanner must decline, not misgroup
        elif key_first_other_order:
            fields = [fields[0], *reversed(fields[1:])]  # not the AWS/RGW order: the per-field path
        entries.append(f"<Contents>{sep}{sep.join(fields)}{sep}</Contents>")
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult {NS}>{sep}<Name>b</Name>'
            f"<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
            f"<NextContinuationToken>t+/=&amp;</NextContinuationToken>{sep}{sep.join(entries)}"
            f"<CommonPrefixes><Prefix>p%20q/</Prefix></CommonPrefixes></ListBucketResult>").encode()
    assert (xmlcodec._scan_list_objects_v2(body) is None) == shuffle
    fast, slow = xmlcodec.parse_list_objects_v2(body), _slow(body)
    assert fast == slow
    assert fast.next_token == "t+/=&" and fast.prefixes == ["p q/"] and len(fast.objects) == 300


def test_fast_scanner_declines_unusual_bodies() -> None:
    prefixed = (b'<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Contents>'
                b"<s3:Key>k</s3:Key><s3:Size>1</s3:Size></s3:Contents></s3:ListBucketResult>")
    assert xmlcodec._scan_list_objects_v2(prefixed) is None
    assert [o.key for o in xmlcodec.parse_list_objects_v2(prefixed).objects] == ["k"]
    cdata = b"<ListBucketResult><Contents><Key><![CDATA[a<b]]></Key><Size>1</Size></Contents></ListBucketResult>"
    assert xmlcodec._scan_list_objects_v2(cdata) is None
    assert xmlcodec.parse_list_objects_v2(cdata).objects[0].key == "a<b"


def test_url_decode_matches_unquote_plus() -> None:
    import random
    from urllib.parse import quote, quote_plus, unquote_plus

    rng = random.Random(9)
    for _ in range(2000):
        key = "".join(rng.choice("ab/ +%&é€😀\x01~") for _ in range(rng.randrange(0, 15)))
        for enc in (quote(key, safe=""), quote_plus(key, safe="/"), key.replace("%", "%25"), "%zz" + key, "%e2%82"):
            assert xmlcodec.url_decode(enc) == unquote_plus(enc), enc
