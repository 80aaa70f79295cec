"""Client behaviour against a scripted local server: regions, errors in 200s, hostile answers."""

from __future__ import annotations

import pytest

import s3kit
from s3kit import Retry, S3Client
from tests.fakes import FakeS3, Reply, Req, error_xml, signed_region

LIST_PAGE = (b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated>'
             b"<NextContinuationToken>same</NextContinuationToken><Contents><Key>k</Key><Size>1</Size>"
             b"<ETag>x</ETag></Contents></ListBucketResult>")


def client_for(fake: FakeS3, **kw: object) -> S3Client:
    kw.setdefault("retry", Retry(base=0.001))
    return S3Client(fake.endpoint, "AKID", "SECRET", "us-east-1", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("style", ["301", "auth-malformed", "header-only"])
def test_region_redirect_resigns_once_and_caches(style: str) -> None:
    def handler(req: Req) -> Reply:
        if signed_region(req) == "eu-west-1":
            return Reply(200, b"hello")
        if style == "301":
            return Reply(301, error_xml("PermanentRedirect", "use the right endpoint", Region="eu-west-1"),
                         {"x-amz-bucket-region": "eu-west-1"})
        if style == "auth-malformed":
            return Reply(400, error_xml("AuthorizationHeaderMalformed", "wrong region", Region="eu-west-1"))
        return Reply(400, b"", {"x-amz-bucket-region": "eu-west-1"})

    with FakeS3(handler) as fake:
        c = client_for(fake)
        assert c.bucket("euro").get("k") == b"hello"
        assert [signed_region(r) for r in fake.requests] == ["us-east-1", "eu-west-1"]
        assert c.bucket("euro").get("k") == b"hello"  # cached: straight to eu-west-1
        assert signed_region(fake.requests[-1]) == "eu-west-1" and len(fake.requests) == 3
        assert c.bucket_region("euro") == "eu-west-1"


def test_redirect_to_same_region_is_not_looped() -> None:
    with FakeS3(lambda req: Reply(301, error_xml("PermanentRedirect", Region="us-east-1"))) as fake:
        with pytest.raises(s3kit.S3Error) as ei:
            client_for(fake).bucket("b").get("k")
        assert ei.value.code == "PermanentRedirect" and len(fake.requests) == 1


def test_bucket_region_head_then_location_fallback() -> None:
    def handler(req: Req) -> Reply:
        if req.method == "HEAD" and req.path.startswith("/withheader"):
            return Reply(200, b"", {"x-amz-bucket-region": "ap-south-1"})
        if req.method == "HEAD":
            return Reply(200)
        if not req.path.endswith("?location="):
            return Reply(200, b"ok")
        return Reply(200, b'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                          b"sa-east-1</LocationConstraint>")

    with FakeS3(handler) as fake:
        c = client_for(fake)
        assert c.bucket_region("withheader") == "ap-south-1"
        assert c.bucket_region("nolocation") == "sa-east-1"
        c.bucket("nolocation").get("k", verify=False)
        assert signed_region(fake.requests[-1]) == "sa-east-1"


def test_create_bucket_outside_us_east_1_sends_location_constraint() -> None:
    def handler(req: Req) -> Reply:
        return Reply(404) if req.method == "HEAD" else Reply(200)

    with FakeS3(handler) as fake:
        S3Client(fake.endpoint, "a", "b", "eu-central-1").create_bucket("newbucket")
        put = fake.requests[-1]
        assert put.method == "PUT"
        assert b"<LocationConstraint>eu-central-1</LocationConstraint>" in put.body
        assert signed_region(put) == "eu-central-1"
        S3Client(fake.endpoint, "a", "b", "us-east-1").create_bucket("newbucket2")
        assert fake.requests[-1].body == b""


def test_copy_200_with_error_body_raises_and_retries_internal_error() -> None:
    answers = [Reply(200, error_xml("InternalError", "copy failed midway")),
               Reply(200, b"<CopyObjectResult><ETag>&quot;abc&quot;</ETag></CopyObjectResult>")]
    with FakeS3(lambda req: answers.pop(0)) as fake:
        r = client_for(fake).bucket("b").copy_to("src/k", "dst")
        assert r.etag == "abc" and len(fake.requests) == 2
        assert fake.requests[0].headers["x-amz-copy-source"] == "src/k"
    with FakeS3(lambda req: Reply(200, error_xml("AccessDenied", "nope"))) as fake:
        with pytest.raises(s3kit.AccessDenied) as ei:
            client_for(fake).bucket("b").copy_to("src/k", "dst")
        assert ei.value.status == 200 and len(fake.requests) == 1


def test_copy_source_is_url_encoded() -> None:
    with FakeS3(lambda req: Reply(200, b"<CopyObjectResult><ETag>e</ETag></CopyObjectResult>")) as fake:
        client_for(fake).bucket("b").copy_to("src/a b+c?d/é", "dst")
        assert fake.requests[0].headers["x-amz-copy-source"] == "src/a%20b%2Bc%3Fd/%C3%A9"


def test_listing_that_repeats_its_token_ends() -> None:
    with FakeS3(lambda req: Reply(200, LIST_PAGE)) as fake:
        with pytest.raises(s3kit.ProtocolError, match="repeated"):
            client_for(fake).bucket("b").list_objects()
        assert len(fake.requests) == 2


def test_non_xml_error_body_and_request_id() -> None:
    with FakeS3(lambda req: Reply(502, b"<html>Bad Gateway</html>", {"x-amz-request-id": "R42"})) as fake:
        with pytest.raises(s3kit.S3Error) as ei:
            client_for(fake, retry=Retry(max_attempts=1)).bucket("b").get("k")
        e = ei.value
        assert e.status == 502 and e.request_id == "R42" and "Bad Gateway" in e.message


def test_billion_laughs_error_body_is_not_expanded() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            b"<Error><Code>&c;</Code></Error>")
    with FakeS3(lambda req: Reply(400, bomb)) as fake:
        with pytest.raises(s3kit.S3Error) as ei:
            client_for(fake).bucket("b").get("k")
        assert "a" * 20 not in str(ei.value)  # the raw body may be quoted, never expanded
    with FakeS3(lambda req: Reply(200, bomb.replace(b"Error", b"ListBucketResult"))) as fake:
        with pytest.raises(s3kit.ProtocolError):
            client_for(fake).bucket("b").list_objects()


def test_huge_content_length_error_is_bounded() -> None:
    def handler(req: Req) -> Reply:
        return Reply(500, b"x" * 10, {"Content-Length": str(1 << 40)})

    with FakeS3(handler) as fake:
        with pytest.raises(s3kit.S3Error):
            client_for(fake, retry=Retry(max_attempts=1), timeout=2).bucket("b").get("k")


def test_delete_many_reports_failures_and_sends_md5() -> None:
    body = (b"<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>"
            b"<Message>no</Message></Error></DeleteResult>")
    with FakeS3(lambda req: Reply(200, body)) as fake:
        with pytest.raises(s3kit.S3Error) as ei:
            client_for(fake).bucket("bk").delete_many(["a", "b"])
        assert "'b': AccessDenied" in str(ei.value) and ei.value.failures == [("b", "AccessDenied", "no")]
        assert "content-md5" in fake.requests[0].headers
