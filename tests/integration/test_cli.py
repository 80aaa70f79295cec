"""The ``s3kit`` command, run as a subprocess against Ceph RGW."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3kit import S3Bucket
from tests.conftest import empty_and_delete, make_client, unique_bucket_name

EXE = os.path.join(os.path.dirname(sys.executable), "s3kit")
ODD = ["plain.txt", "with space.txt", "plus+sign", "q?mark#hash", "ünï/κλειδί.txt", "deep/er/x.bin", "pct%20lit"]


@pytest.fixture(scope="module")
def env(ceph_server: object) -> dict[str, str]:
    s = ceph_server
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(AWS_ENDPOINT_URL=s.endpoint, AWS_ACCESS_KEY_ID=s.access_key,  # type: ignore[attr-defined]
             AWS_SECRET_ACCESS_KEY=s.secret_key, AWS_DEFAULT_REGION="us-east-1")  # type: ignore[attr-defined]
    return e


@pytest.fixture()
def cbucket(ceph_server: object) -> Iterator[S3Bucket]:
    c = make_client(ceph_server)  # type: ignore[arg-type]
    name = unique_bucket_name("cli")
    yield c.create_bucket(name)
    empty_and_delete(c, name)


def run(env: dict[str, str], *args: str, stdin: bytes | None = None, ok: bool = True) -> subprocess.CompletedProcess[bytes]:
    p = subprocess.run([EXE, *args], env=env, input=stdin, capture_output=True, timeout=120)
    if ok:
        assert p.returncode == 0, (args, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
    return p


def make_tree(root: Path) -> dict[str, bytes]:
    files = {}
    for i, rel in enumerate(ODD):
        data = f"{i}:{rel}\n".encode() * (i + 1)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        files[rel] = data
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_mb_ls_rb(env: dict[str, str], ceph_server: object) -> None:
    name = unique_bucket_name("mb")
    assert run(env, "mb", f"s3://{name}").stdout.decode().strip() == f"make_bucket: {name}"
    assert name in run(env, "ls").stdout.decode()
    lines = [json.loads(x) for x in run(env, "ls", "--json").stdout.decode().splitlines()]
    assert {"bucket": name} .items() <= next(x for x in lines if x["bucket"] == name).items()
    again = run(env, "mb", f"s3://{name}", ok=False)
    assert again.returncode == 1 and b"BucketAlreadyOwnedByYou" in again.stderr and b"Traceback" not in again.stderr
    c = make_client(ceph_server)  # type: ignore[arg-type]
    c.bucket(name).put("x", b"1")
    assert run(env, "rb", f"s3://{name}", ok=False).returncode == 1  # not empty
    run(env, "rb", "--force", f"s3://{name}")
    assert not c.bucket_exists(name)


def test_cp_tree_both_ways_with_odd_names(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = make_tree(src)
    out = run(env, "cp", "--recursive", str(src), f"s3://{cbucket.name}/pre/").stdout.decode()
    assert out.count("upload:") == len(ODD)
    assert sorted(cbucket.list_objects()) == sorted(f"pre/{r}" for r in ODD)
    for rel, data in files.items():
        assert cbucket.get(f"pre/{rel}") == data
    assert cbucket.head("pre/plain.txt").content_type == "text/plain"  # guessed from the name
    ls = run(env, "ls", f"s3://{cbucket.name}/pre/").stdout.decode()
    assert "PRE deep/" in ls and "plain.txt" in ls
    rec = run(env, "ls", "--recursive", "--human-readable", f"s3://{cbucket.name}/").stdout.decode()
    assert "pre/deep/er/x.bin" in rec and " B " in rec
    back = tmp_path / "back"
    run(env, "cp", "--recursive", f"s3://{cbucket.name}/pre/", str(back))
    assert read_tree(back) == files


def test_cp_single_files_metadata_and_s3_to_s3(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    f = tmp_path / "a.dat"
    f.write_bytes(b"A" * 1000)
    run(env, "cp", str(f), f"s3://{cbucket.name}/dir/", "--content-type", "application/x-test",
        "--metadata", "owner=me", "note=hi there")
    info = cbucket.head("dir/a.dat")
    assert info.content_type == "application/x-test" and info.metadata == {"owner": "me", "note": "hi there"}
    run(env, "cp", f"s3://{cbucket.name}/dir/a.dat", f"s3://{cbucket.name}/copy.dat")
    assert cbucket.get("copy.dat") == b"A" * 1000
    run(env, "cp", f"s3://{cbucket.name}/copy.dat", str(tmp_path / "down.dat"))
    assert (tmp_path / "down.dat").read_bytes() == b"A" * 1000
    missing = run(env, "cp", f"s3://{cbucket.name}/nope", str(tmp_path / "x"), ok=False)
    assert missing.returncode == 1 and b"NoSuchKey" in missing.stderr and b"nope" in missing.stderr
    assert not (tmp_path / "x").exists()


def test_stdin_stdout_streaming_and_cat(env: dict[str, str], cbucket: S3Bucket) -> None:
    data = os.urandom(12 * 1024 * 1024 + 5)  # > one 8 MiB part: multipart from a pipe
    run(env, "cp", "-", f"s3://{cbucket.name}/piped.bin", stdin=data)
    assert cbucket.get("piped.bin") == data
    assert run(env, "cp", f"s3://{cbucket.name}/piped.bin", "-").stdout == data
    cbucket.put("t.txt", b"hello cat\n")
    assert run(env, "cat", f"s3://{cbucket.name}/t.txt").stdout == b"hello cat\n"


def test_mv_and_rm(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    f = tmp_path / "m.txt"
    f.write_bytes(b"move me")
    run(env, "mv", str(f), f"s3://{cbucket.name}/m.txt")
    assert not f.exists() and cbucket.get("m.txt") == b"move me"
    run(env, "mv", f"s3://{cbucket.name}/m.txt", f"s3://{cbucket.name}/n.txt")
    assert cbucket.list_objects() == ["n.txt"]
    for i in range(3):
        cbucket.put(f"r/{i}", b"x")
    dry = run(env, "rm", "--recursive", "--dryrun", f"s3://{cbucket.name}/r/").stdout.decode()
    assert dry.count("(dryrun) delete:") == 3 and len(cbucket.list_objects("r/")) == 3
    run(env, "rm", "--recursive", f"s3://{cbucket.name}/r/")
    assert cbucket.list_objects() == ["n.txt"]
    run(env, "rm", f"s3://{cbucket.name}/n.txt")
    gone = run(env, "rm", f"s3://{cbucket.name}/n.txt", ok=False)
    assert gone.returncode == 1 and b"NoSuchKey" in gone.stderr


def test_presign(env: dict[str, str], cbucket: S3Bucket) -> None:
    import urllib.request

    cbucket.put("p", b"presigned!")
    url = run(env, "presign", f"s3://{cbucket.name}/p", "--expires", "60").stdout.decode().strip()
    assert "X-Amz-Expires=60" in url and urllib.request.urlopen(url).read() == b"presigned!"
    put_url = run(env, "presign", f"s3://{cbucket.name}/up", "--method", "PUT").stdout.decode().strip()
    req = urllib.request.Request(put_url, data=b"up!", method="PUT", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req).read()
    assert cbucket.get("up") == b"up!"
    assert run(env, "presign", f"s3://{cbucket.name}/p", "--expires", "999999", ok=False).returncode == 1


def test_sync_both_ways_with_delete_and_filters(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = make_tree(src)
    (src / "skip.log").write_bytes(b"log")
    dest = f"s3://{cbucket.name}/mirror/"
    out = run(env, "sync", str(src), dest, "--exclude", "*.log").stdout.decode()
    assert out.count("upload:") == len(ODD)
    assert "mirror/skip.log" not in cbucket.list_objects()
    assert run(env, "sync", str(src), dest, "--exclude", "*.log").stdout == b""  # nothing differs
    (src / "plain.txt").write_bytes(b"changed, and longer than before")
    (src / "with space.txt").unlink()
    cbucket.put("mirror/stray", b"not in source")
    dry = run(env, "sync", "--delete", "--dryrun", str(src), dest, "--exclude", "*.log").stdout.decode()
    assert "(dryrun) delete: s3://" in dry and "stray" in dry and cbucket.exists("mirror/stray")
    run(env, "sync", "--delete", str(src), dest, "--exclude", "*.log")
    remote = {k[len("mirror/"):] for k in cbucket.list_objects("mirror/")}
    assert remote == set(files) - {"with space.txt"}
    assert cbucket.get("mirror/plain.txt") == b"changed, and longer than before"
    local = tmp_path / "local"
    run(env, "sync", dest, str(local))
    (local / "extra.txt").write_bytes(b"delete me")
    cbucket.put("mirror/new.txt", b"new")
    run(env, "sync", "--delete", dest, str(local))
    assert read_tree(local) == {k[len("mirror/"):]: cbucket.get(k) for k in cbucket.list_objects("mirror/")}
    assert run(env, "sync", dest, str(local)).stdout == b""  # second run: nothing to do


@pytest.mark.parametrize("bad", ["../../escape.txt", "a/../../b.txt", "/etc/s3kit-test-x"])
def test_download_never_escapes_destination(env: dict[str, str], ceph_server: object, cbucket: S3Bucket,
                                            tmp_path: Path, bad: str) -> None:
    cbucket.put("p/" + bad, b"evil")  # "p//etc/x": relative to "p/" the key is absolute
    cbucket.put("p/good.txt", b"good")
    dest = tmp_path / "inner" / "dest"
    dest.mkdir(parents=True)
    # from the bucket root, "p//etc/x" is the harmless "p/etc/x": only ".." keys escape there
    roots = [f"s3://{cbucket.name}/p/"] + ([] if bad.startswith("/") else [f"s3://{cbucket.name}/"])
    for src in roots:
        p = run(env, "cp", "--recursive", src, str(dest), ok=False)
        assert p.returncode == 1 and b"outside" in p.stderr
        p = run(env, "sync", src, str(dest), ok=False)
        assert p.returncode == 1
    assert (dest / "good.txt").read_bytes() == b"good"
    written = {str(x.relative_to(tmp_path)) for x in tmp_path.rglob("*") if x.is_file()}
    assert all(w.startswith("inner/dest/") for w in written), written
    assert not os.path.exists("/etc/s3kit-test-x")


def test_usage_errors_exit_2(env: dict[str, str]) -> None:
    for args in (["cp", "only-one-arg"], ["frobnicate"], ["cp", "/tmp", "/tmp"], ["ls", "not-an-s3-url"]):
        p = run(env, *args, ok=False)
        assert p.returncode == 2, args
        assert b"Traceback" not in p.stderr


def run_on_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the command on a pseudo-terminal; its exit code and everything it showed."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # child: the real command on a pseudo-terminal
        os.environ.clear()
        os.environ.update(env, TERM="xterm-256color", COLUMNS="160")
        os.execv(EXE, [EXE, *args])
    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_progress_bar_on_a_terminal(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    f = tmp_path / "big.bin"
    f.write_bytes(os.urandom(20 * 1024 * 1024))
    code, text = run_on_terminal(env, "cp", str(f), f"s3://{cbucket.name}/big.bin")
    assert code == 0, text
    assert "big.bin" in text and "\u2501" in text, text  # the file's bar
    assert "21.0/21.0 MB" in text, text  # bytes done / total (20 MiB = 21.0 MB)
    assert "B/s" in text and "0:00:00" in text, text  # rate and time remaining
    # piped (no terminal): no progress output at all
    piped = run(env, "cp", str(f), f"s3://{cbucket.name}/big2.bin")
    assert b"MB" not in piped.stderr and piped.stderr == b""

    # a hostile name (issue 10): an OSC title change, rich markup, an emoji code, a newline.
    # One PUT (below the 8 MiB multipart threshold): multipart uploads of keys holding such
    # control characters fail in the library (RGW answers with &#x1b; in the XML).
    name = "evil\x1b]0;pwned\x07[red]x[bold]:smile:\n.bin"  # no "/": it is a file name
    h = tmp_path / name
    h.write_bytes(os.urandom(6 * 1024 * 1024))
    code, text = run_on_terminal(env, "cp", str(h), f"s3://{cbucket.name}/")
    assert code == 0, ascii(text)
    assert cbucket.exists(name)
    assert "\x1b]0;pwned" not in text and "\x07" not in text, ascii(text)
    # the bar shows the name escaped, literally: no style applied, no emoji
    assert "evil\\033]0;pwned\\a[red]x[bold]:smile:\\n.bin" in text and "\u2501" in text, ascii(text)
    # and so does the final line on stdout (a terminal too, which rich wraps at its width)
    assert "upload: " in text and "\\n.bin to " in text, ascii(text)


def _interrupt_when(proc: subprocess.Popen[bytes], ready, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    import signal
    import time

    end = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() < end
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)


def test_ctrl_c_leaves_no_partial_file_and_no_upload(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(160):
            f.write(os.urandom(1 << 20))
    up = subprocess.Popen([EXE, "--concurrency", "1", "cp", str(big), f"s3://{cbucket.name}/big.bin"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _interrupt_when(up, lambda: bool(cbucket.list_uploads()))
    out, err = up.communicate(timeout=60)
    assert up.returncode == 130, err
    assert cbucket.list_uploads() == [] and not cbucket.exists("big.bin")

    cbucket.upload_file(str(big), "big.bin")
    dest = tmp_path / "dl"
    dest.mkdir()
    down = subprocess.Popen([EXE, "--concurrency", "1", "cp", f"s3://{cbucket.name}/big.bin", str(dest) + "/"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _interrupt_when(down, lambda: any(p.stat().st_size > 0 for p in dest.iterdir()))
    out, err = down.communicate(timeout=60)
    assert down.returncode == 130, err
    assert list(dest.iterdir()) == []  # neither the target nor its temporary file


def test_parallel_output_lines_never_interleave(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "many"
    src.mkdir()
    for i in range(60):
        (src / f"f{i:02d}.txt").write_bytes(b"x")
    out = run(env, "--concurrency", "16", "cp", "--recursive", str(src), f"s3://{cbucket.name}/m/").stdout.decode()
    lines = out.splitlines()
    assert len(lines) == 60 and all(line.startswith("upload: ") and line.count("upload:") == 1 for line in lines)


def test_global_options_quiet_and_explicit_endpoint(env: dict[str, str], ceph_server: object, cbucket: S3Bucket,
                                                    tmp_path: Path) -> None:
    s = ceph_server
    f = tmp_path / "q.txt"
    f.write_bytes(b"quiet")
    assert run(env, "--quiet", "cp", str(f), f"s3://{cbucket.name}/q.txt").stdout == b""
    assert run(env, "cp", str(f), f"s3://{cbucket.name}/q2.txt", "--no-progress", "-q").stdout == b""
    bare = {k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"}
    out = run(bare, "ls", f"s3://{cbucket.name}/", "--endpoint-url", s.endpoint).stdout.decode()  # type: ignore[attr-defined]
    assert "q.txt" in out and "q2.txt" in out
