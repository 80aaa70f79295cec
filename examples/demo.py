"""The s3kit walkthrough: starts a local S3 server, exercises every call, stops it.

Run with ``make demo``. Uses Ceph RGW when installed (root + apt), else moto server.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import servers  # noqa: E402

import s3kit  # noqa: E402
from s3kit import S3Client  # noqa: E402


def step(msg: str) -> None:
    print(f"\n== {msg}")


def show(label: str, value: object) -> None:
    print(f"   {label:<34} {value}")


def main() -> int:
    print("starting a local S3 server on 127.0.0.1 ...")
    t0 = time.monotonic()
    with servers.any_server() as srv:
        show("server", f"{srv.name} at {srv.endpoint} (up in {time.monotonic() - t0:.1f} s)")
        with S3Client(srv.endpoint, srv.access_key, srv.secret_key, srv.region) as s3:
            walkthrough(s3)
            cli_walkthrough(srv)
    print("\nserver stopped; demo complete.")
    return 0


def walkthrough(s3: S3Client) -> None:
    step("buckets")
    show("list_buckets()", s3.list_buckets())
    photos = s3.create_bucket("demo-photos")
    show("create_bucket('demo-photos')", photos)
    show("bucket_exists('demo-photos')", s3.bucket_exists("demo-photos"))
    show("bucket_exists('no-such-bucket')", s3.bucket_exists("no-such-bucket"))
    show("get_bucket('demo-photos')", s3.get_bucket("demo-photos"))
    try:
        s3.create_bucket("demo-photos")
    except s3kit.BucketAlreadyExists as e:
        show("create_bucket again ->", f"{type(e).__name__}: {e.code}")
    try:
        s3.create_bucket("Bad_Name")
    except s3kit.InvalidBucketName as e:
        show("create_bucket('Bad_Name') ->", f"{type(e).__name__} (nothing sent)")
    show("list_buckets()", s3.list_buckets())

    step("objects")
    key = "2026/cats/Mr. Whiskers & co (1).jpg"
    res = photos.put(key, b"\xff\xd8 pretend jpeg " * 100, content_type="image/jpeg",
                     metadata={"camera": "Pixel", "caption": "café ☕"})
    show("put(key, 1.6 KB)", res)
    show("get(key) -> bytes", f"{len(photos.get(key))} bytes, verified against the MD5 ETag")
    show("get(key, range=(0, 9))", photos.get(key, range=(0, 9)))
    info = photos.head(key)
    show("head(key).content_type", info.content_type)
    show("head(key).metadata", info.metadata)
    show("exists(key) / exists('nope')", (photos.exists(key), photos.exists("nope")))
    try:
        photos.get("nope")
    except s3kit.NoSuchKey as e:
        show("get('nope') ->", e)
    try:
        photos.put(key, b"x", if_none_match="*")
    except s3kit.PreconditionFailed as e:
        show("put(if_none_match='*') existing ->", e.code)
    photos.copy_to(f"demo-photos/{key}", "backup/cat.jpg")
    show("copy_to(src, 'backup/cat.jpg')", photos.get("backup/cat.jpg") == photos.get(key))

    step("listing")
    for i in range(5):
        photos.put(f"2026/dogs/dog{i}.txt", f"dog {i}".encode())
    show("list_objects()", photos.list_objects())
    show("list_objects('2026/dogs/')", photos.list_objects("2026/dogs/"))
    listing = photos.list_dir("2026/")
    show("list_dir('2026/').prefixes", listing.prefixes)
    first = next(photos.iter_objects())
    show("next(iter_objects())", f"{first.key} ({first.size} bytes, {first.last_modified:%Y-%m-%d %H:%M})")

    step("presigned URL")
    url = photos.presign("backup/cat.jpg", expires=300)
    show("presign(...) (signature hidden)", url.split("X-Amz-Signature=")[0] + "X-Amz-Signature=...")
    show("urllib GET of the URL", f"{len(urllib.request.urlopen(url).read())} bytes")

    step("large objects (multipart, parallel, verified, atomic)")
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "big.bin")
        with open(src, "wb") as f:
            for i in range(24):
                f.write(hashlib.sha256(str(i).encode()).digest() * 32768)  # 24 MiB
        seen: list[int] = []
        t = time.monotonic()
        r = photos.upload_file(src, "big/big.bin", part_size=8 << 20, progress=lambda done, total: seen.append(done))
        show("upload_file(24 MiB, 8 MiB parts)", f"etag {r.etag} in {time.monotonic() - t:.2f} s, "
                                                  f"{len(seen)} progress calls")
        dst = os.path.join(d, "copy.bin")
        t = time.monotonic()
        photos.download_file("big/big.bin", dst)
        same = open(src, "rb").read() == open(dst, "rb").read()
        show("download_file -> identical", f"{same} in {time.monotonic() - t:.2f} s")
        with photos.open("big/big.bin") as stream:
            stream.seek(8 << 20)
            show("open().seek(8 MiB).read(16)", stream.read(16).hex())

    step("deleting")
    photos.delete("backup/cat.jpg")
    try:
        photos.delete("backup/cat.jpg")
    except s3kit.NoSuchKey:
        show("delete(missing) ->", "NoSuchKey")
    photos.delete_many(photos.list_objects())
    show("delete_many(all) -> list_objects()", photos.list_objects())
    s3.delete_bucket("demo-photos")
    s3.delete_bucket("demo-photos")  # idempotent
    show("delete_bucket twice -> exists?", s3.bucket_exists("demo-photos"))


def cli_walkthrough(srv: servers.Server) -> None:
    exe = os.path.join(os.path.dirname(sys.executable), "s3kit")
    if not os.path.exists(exe):
        return
    step("the s3kit command")
    env = dict(os.environ, AWS_ENDPOINT_URL=srv.endpoint, AWS_ACCESS_KEY_ID=srv.access_key,
               AWS_SECRET_ACCESS_KEY=srv.secret_key, AWS_DEFAULT_REGION=srv.region)
    with tempfile.TemporaryDirectory() as d:
        for name in ("a.txt", "sub/b.txt", "sub/deeper/c.txt"):
            os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
            with open(os.path.join(d, name), "w") as f:
                f.write(f"hello from {name}\n")
        for args in (["mb", "s3://demo-cli"], ["cp", "--recursive", d, "s3://demo-cli/tree/"],
                     ["ls", "--recursive", "--human-readable", "s3://demo-cli/"], ["cat", "s3://demo-cli/tree/a.txt"],
                     ["sync", "s3://demo-cli/tree/", os.path.join(d, "back")], ["rb", "--force", "s3://demo-cli"]):
            print(f"   $ s3kit {' '.join(a.replace(d, '<tmpdir>') for a in args)}")
            out = subprocess.run([exe, *args], env=env, capture_output=True, text=True)
            for line in (out.stdout + out.stderr).splitlines():
                print(f"     {line.replace(d, '<tmpdir>')}")
            if out.returncode:
                raise SystemExit(f"s3kit {args[0]} failed with exit code {out.returncode}")


if __name__ == "__main__":
    sys.exit(main())
