"""The seed API on real servers (Ceph RGW and moto): every promised behaviour."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

import s3kit
from s3kit import S3Bucket, S3Client, S3Error
from tests.conftest import empty_and_delete, is_async, key_unsupported, make_client, unique_bucket_name

ODD_KEYS = [
    "plain.txt",
    "with space.txt",
    "plus+sign",
    "q?mark",
    "hash#tag",
    "pct%20literal",
    "amp&eq=colon:at@",
    "tilde~star*quote'paren()bang!",
    "unicode/ünï/κλειδί/日本語.txt",
    "a//b",
    "../x",
    "dir/../../escape",
    "trailing/",
    "emoji 😀",
    "k" * 1000,
]


def test_list_buckets_empty_then_lists(client: S3Client) -> None:
    for b in client.list_buckets():
        empty_and_delete(client, b.name)
    assert client.list_buckets() == []
    name = unique_bucket_name()
    client.create_bucket(name)
    try:
        buckets = client.list_buckets()
        assert [b.name for b in buckets] == [name]
        assert isinstance(buckets[0], S3Bucket) or is_async(client)
        assert buckets[0].creation_date is not None
    finally:
        client.delete_bucket(name)


def test_bucket_lifecycle(client: S3Client) -> None:
    name = unique_bucket_name()
    assert not client.bucket_exists(name)
    with pytest.raises(s3kit.NoSuchBucket) as ei:
        client.get_bucket(name)
    assert ei.value.status == 404 and ei.value.bucket == name
    b = client.create_bucket(name)
    assert b.name == name and client.bucket_exists(name)
    assert client.get_bucket(name).name == name
    with pytest.raises(s3kit.BucketAlreadyExists) as e2:
        client.create_bucket(name)
    assert e2.value.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")
    b.put("k", b"v")
    with pytest.raises(s3kit.BucketNotEmpty):
        client.delete_bucket(name)
    b.delete("k")
    client.delete_bucket(name)
    assert not client.bucket_exists(name)
    client.delete_bucket(name)  # idempotent


def test_bucket_handle_makes_no_request() -> None:
    c = S3Client("http://127.0.0.1:9", "a", "b")  # nothing listens on port 9
    assert c.bucket("anything").name == "anything"


@pytest.mark.parametrize("bad", ["ab", "A" * 3, "has_underscore", "-start", "end-", "a..b", "192.168.1.1",
                                 "x" * 64, "xn--abc", "UPPER", "sp ace", ""])
def test_invalid_bucket_names_send_nothing(bad: str) -> None:
    c = S3Client("http://127.0.0.1:9", "a", "b")  # a request would fail with TransportError
    with pytest.raises(s3kit.InvalidBucketName) as ei:
        c.create_bucket(bad)
    assert isinstance(ei.value, ValueError)


def test_bad_key_and_data_send_nothing() -> None:
    b = S3Client("http://127.0.0.1:9", "a", "b").bucket("bkt")
    with pytest.raises(s3kit.InvalidKey):
        b.put("", b"x")
    with pytest.raises(s3kit.InvalidKey):
        b.get("é" * 600)  # 1,200 UTF-8 bytes
    with pytest.raises(s3kit.InvalidType) as ei:
        b.put("k", "a str")  # type: ignore[arg-type]
    assert isinstance(ei.value, TypeError)
    with pytest.raises(s3kit.InvalidType):
        b.put("k", 12345)  # type: ignore[arg-type]
    with pytest.raises(s3kit.InvalidType):
        b.get(None)  # type: ignore[arg-type]


def test_put_get_roundtrip_types_and_content_type(bucket: S3Bucket) -> None:
    data = bytes(range(256)) * 5
    bucket.put("bytes", data)
    bucket.put("bytearray", bytearray(data))
    bucket.put("memoryview", memoryview(data)[10:20])
    bucket.put("empty", b"")
    assert bucket.get("bytes") == data
    assert bucket.get("bytearray") == data
    assert bucket.get("memoryview") == data[10:20]
    assert bucket.get("empty") == b""
    assert bucket.head("bytes").content_type == "application/octet-stream"


@pytest.mark.parametrize("key", ODD_KEYS, ids=range(len(ODD_KEYS)))
def test_odd_keys_roundtrip(server: object, bucket: S3Bucket, key: str) -> None:
    why = key_unsupported(server, key)  # type: ignore[arg-type]
    if why:
        pytest.skip(why)
    payload = key.encode() + b"\x00\xff"
    bucket.put(key, payload)
    assert bucket.get(key) == payload
    assert bucket.list_objects() == [key]
    bucket.copy_to(f"{bucket.name}/{key}", key + ".copy")
    assert bucket.get(key + ".copy") == payload
    bucket.delete(key)
    assert bucket.list_objects() == [key + ".copy"]


def test_get_missing_key_and_bucket(client: S3Client, bucket: S3Bucket) -> None:
    with pytest.raises(s3kit.NoSuchKey) as ei:
        bucket.get("missing")
    e = ei.value
    assert e.code == "NoSuchKey" and e.status == 404 and e.key == "missing" and e.bucket == bucket.name
    assert e.request_id
    with pytest.raises(s3kit.NoSuchBucket):
        client.bucket(unique_bucket_name()).get("k")


def test_delete_missing_key_raises(bucket: S3Bucket, client: S3Client) -> None:
    with pytest.raises(s3kit.NoSuchKey):
        bucket.delete("never-existed")
    bucket.put("k", b"1")
    bucket.delete("k")
    with pytest.raises(s3kit.NoSuchKey):
        bucket.get("k")
    with pytest.raises(s3kit.NoSuchKey):
        bucket.delete("k")
    with pytest.raises(s3kit.NoSuchBucket):
        client.bucket(unique_bucket_name()).delete("k")


def test_copy_between_buckets_and_errors(client: S3Client, bucket: S3Bucket) -> None:
    other = client.create_bucket(unique_bucket_name())
    try:
        other.put("dir/sub/src key+1", b"payload")
        bucket.copy_to(f"{other.name}/dir/sub/src key+1", "dst/key")
        assert bucket.get("dst/key") == b"payload"
        with pytest.raises(s3kit.NoSuchKey):
            bucket.copy_to(f"{other.name}/missing", "x")
        with pytest.raises(s3kit.InvalidArgument):
            bucket.copy_to("no-slash", "x")
    finally:
        empty_and_delete(client, other.name)


def test_list_objects_follows_all_pages(bucket: S3Bucket) -> None:
    keys = [f"k/{i:05d}" for i in range(1003)]
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda k: bucket.put(k, b"x"), keys))
    assert bucket.list_objects() == keys


def test_presigned_get_and_put(bucket: S3Bucket) -> None:
    bucket.put("a b/c+d", b"secret data")
    url = bucket.presign("a b/c+d", expires=60)
    assert urllib.request.urlopen(url).read() == b"secret data"
    put_url = bucket.presign("up/loaded", method="PUT", expires=60)
    # an explicit type: urllib's default form type makes moto store an empty object
    req = urllib.request.Request(put_url, data=b"via presigned put", method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req).read()
    assert bucket.get("up/loaded") == b"via presigned put"
    for bad in (0, 604801, -5):
        with pytest.raises(s3kit.InvalidArgument):
            bucket.presign("k", expires=bad)


def test_presigned_url_is_verified(server: object, bucket: S3Bucket) -> None:
    if server.name == "moto":
        pytest.skip("moto does not verify signatures")
    bucket.put("k", b"v")
    url = bucket.presign("k", expires=60)
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(tampered)
    assert ei.value.code == 403


def test_wrong_secret_is_access_error(server: object, bucket: S3Bucket) -> None:
    if server.name == "moto":
        pytest.skip("moto accepts any keys")
    srv = server
    bad = S3Client(srv.endpoint, srv.access_key, "wrong-secret")  # type: ignore[attr-defined]
    with pytest.raises(S3Error) as ei:
        bad.bucket(bucket.name).get("k")
    assert ei.value.code == "SignatureDoesNotMatch" and ei.value.status == 403
    assert "wrong-secret" not in str(ei.value)


def test_context_manager_closes_connections(server: object) -> None:
    with make_client(server) as c:  # type: ignore[arg-type]
        c.list_buckets()
    assert c.transport.open_connections() == 0
    c.list_buckets()  # still usable afterwards: reconnects


def test_one_client_many_threads(client: S3Client, bucket: S3Bucket) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(10):
                k = f"t{i}/{j}"
                data = f"{i}:{j}".encode() * (j + 1)
                bucket.put(k, data)
                assert bucket.get(k) == data
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(bucket.list_objects()) == 160
    assert client.transport.open_connections() <= client.transport.maxsize


def test_delete_missing_ok_is_one_request(bucket: S3Bucket, client: S3Client) -> None:
    bucket.put("k", b"1")
    sent: list[str] = []
    real = client.transport.send

    def counting(w):  # type: ignore[no-untyped-def]
        sent.append(w.method)
        return real(w)

    client.transport.send = counting  # type: ignore[method-assign]
    bucket.delete("k", missing_ok=True)
    bucket.delete("k", missing_ok=True)  # already gone: no error
    client.transport.send = real  # type: ignore[method-assign]
    assert sent == ["DELETE", "DELETE"] and not bucket.exists("k")
