"""The CLI's data-safety rules (issue 10), run as a subprocess against Ceph RGW:

1. a recursive S3 argument names a directory (``s3://b/logs`` is ``logs/``, never ``logs-old/``);
2. --exclude/--include follow aws-cli's rules (order matters, the last match decides);
3. symlinks in a source tree are followed, loops are cut, broken links warn;
4. names from a bucket or a disk never reach the terminal raw (control characters escaped;
   the progress bar's test is test_progress_bar_on_a_terminal in test_cli.py).

The same behaviours are compared with the real aws-cli in test_cli_aws_parity.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from s3kit import S3Bucket
from tests.integration import test_cli
from tests.integration.test_cli import EXE, read_tree, run

env, cbucket = test_cli.env, test_cli.cbucket  # the fixtures of test_cli.py, shared

# Names whose prefixes overlap ("logs" is a key and a directory) and names that attack
# the terminal: an OSC title change + clear screen, a forged line, rich markup, C1 CSI,
# a bidi override, a backslash that could fake an escape.
LOGS = ["logs", "logs/a", "logs/b/c", "logs-old/x", "logsx", "logs.txt"]
HOSTILE = ["evil\x1b]0;pwned\x07\x1b[2J.txt", "forged\n(dryrun) delete: everything.txt", "[red]x[/red].txt",
           "c1\x9b31m.txt", "bidi\u202etxt.exe", "back\\033slash.txt", "tab\tdel\x7f.txt"]
ODD = ["with space.txt", "plus+sign.txt", "pct%20.txt", "ünï/κλειδί.txt"]

# What must never reach the terminal raw (tab and newline only as the line structure)
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def escaped(name: str) -> str:
    from s3kit.cli.escape import escape

    return escape(name)


def put_all(b: S3Bucket, keys: list[str]) -> None:
    for k in keys:
        b.put(k, k.encode())


def make_local(root: Path, names: list[str]) -> None:
    for rel in names:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())


def assert_terminal_safe(text: str, lines: int | None = None) -> None:
    assert not FORBIDDEN.search(text), ascii(text)
    if lines is not None:
        assert len(text.splitlines()) == lines, ascii(text)
    assert "\t" not in text, ascii(text)


# -- 1. a recursive S3 argument is a directory ------------------------------------------------


@pytest.mark.parametrize("arg", ["logs", "logs/"])
def test_rm_recursive_deletes_only_the_directory(env: dict[str, str], cbucket: S3Bucket, arg: str) -> None:
    put_all(cbucket, LOGS)
    dry = run(env, "rm", "--recursive", "--dryrun", f"s3://{cbucket.name}/{arg}").stdout.decode()
    assert sorted(dry.splitlines()) == [f"(dryrun) delete: s3://{cbucket.name}/logs/a",
                                        f"(dryrun) delete: s3://{cbucket.name}/logs/b/c"]
    run(env, "rm", "--recursive", f"s3://{cbucket.name}/{arg}")
    assert sorted(cbucket.list_objects()) == sorted(set(LOGS) - {"logs/a", "logs/b/c"})


def test_rm_recursive_on_the_bucket_root_deletes_everything(env: dict[str, str], cbucket: S3Bucket) -> None:
    put_all(cbucket, LOGS)
    run(env, "rm", "--recursive", f"s3://{cbucket.name}")
    assert cbucket.list_objects() == []


def test_every_recursive_command_means_the_directory(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    put_all(cbucket, LOGS)
    b = f"s3://{cbucket.name}"
    run(env, "cp", "--recursive", f"{b}/logs", str(tmp_path / "cp"))
    assert sorted(read_tree(tmp_path / "cp")) == ["a", "b/c"]
    run(env, "sync", f"{b}/logs", str(tmp_path / "sync"))
    assert sorted(read_tree(tmp_path / "sync")) == ["a", "b/c"]
    run(env, "cp", "--recursive", f"{b}/logs", f"{b}/copy")
    assert sorted(cbucket.list_objects("copy")) == ["copy/a", "copy/b/c"]
    run(env, "sync", f"{b}/logs", f"{b}/synced")
    assert sorted(cbucket.list_objects("synced")) == ["synced/a", "synced/b/c"]
    run(env, "mv", "--recursive", f"{b}/logs", f"{b}/moved")
    assert sorted(cbucket.list_objects("moved")) == ["moved/a", "moved/b/c"]
    assert sorted(cbucket.list_objects("logs")) == ["logs", "logs-old/x", "logs.txt", "logsx"]
    # sync --delete into s3://b/logs deletes only under logs/
    src = tmp_path / "empty"
    src.mkdir()
    cbucket.put("logs/z", b"z")
    run(env, "sync", "--delete", str(src), f"{b}/logs")
    assert sorted(cbucket.list_objects("logs")) == ["logs", "logs-old/x", "logs.txt", "logsx"]


def test_ls_lists_the_level_like_aws(env: dict[str, str], cbucket: S3Bucket) -> None:
    put_all(cbucket, LOGS)
    b = f"s3://{cbucket.name}"
    names = [line.split()[-1] for line in run(env, "ls", f"{b}/logs").stdout.decode().splitlines()]
    assert names == ["logs-old/", "logs/", "logs", "logs.txt", "logsx"]
    names = [line.split()[-1] for line in run(env, "ls", f"{b}/logs/").stdout.decode().splitlines()]
    assert names == ["b/", "a"]
    # --recursive: a plain key prefix, exactly as `aws s3 ls --recursive`
    names = [line.split()[-1] for line in run(env, "ls", "--recursive", f"{b}/logs").stdout.decode().splitlines()]
    assert names == sorted(LOGS)


# -- 2. filters --------------------------------------------------------------------------------

FILTER_TREE = ["n/a.txt", "n/b.log", "n/m/c.txt", "top.txt", "top.log", "x/y.txt"]


@pytest.mark.parametrize("filters, expected", [
    (["--exclude", "*", "--include", "*.txt"], ["n/a.txt", "n/m/c.txt", "top.txt", "x/y.txt"]),
    (["--include", "*.txt", "--exclude", "*"], []),
    (["--include", "*.txt", "--exclude", "n/*"], ["top.log", "top.txt", "x/y.txt"]),
    (["--exclude", "*.txt", "--include", "n/*"], ["n/a.txt", "n/b.log", "n/m/c.txt", "top.log"]),
    (["--exclude", "n/*", "--include", "n/m/*"], ["n/m/c.txt", "top.log", "top.txt", "x/y.txt"]),
])
def test_filters_choose_the_same_paths_for_every_command(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path,
                                                         filters: list[str], expected: list[str]) -> None:
    b = f"s3://{cbucket.name}"
    src = tmp_path / "src"
    make_local(src, FILTER_TREE)
    run(env, "cp", "--recursive", str(src), f"{b}/up", *filters)  # local -> s3
    assert sorted(k[3:] for k in cbucket.list_objects("up/")) == expected
    put_all(cbucket, [f"all/{k}" for k in FILTER_TREE])
    run(env, "cp", "--recursive", f"{b}/all", str(tmp_path / "down"), *filters)  # s3 -> local
    assert sorted(read_tree(tmp_path / "down")) == expected
    run(env, "cp", "--recursive", f"{b}/all/", f"{b}/copy/", *filters)  # s3 -> s3
    assert sorted(k[5:] for k in cbucket.list_objects("copy/")) == expected
    run(env, "sync", str(src), f"{b}/sync", *filters)
    assert sorted(k[5:] for k in cbucket.list_objects("sync/")) == expected
    run(env, "sync", f"{b}/all", str(tmp_path / "syncdown"), *filters)
    assert sorted(read_tree(tmp_path / "syncdown")) == expected
    run(env, "rm", "--recursive", f"{b}/all", *filters)
    assert sorted(k[4:] for k in cbucket.list_objects("all/")) == sorted(set(FILTER_TREE) - set(expected))
    run(env, "mv", "--recursive", str(src), f"{b}/moved", *filters)
    assert sorted(k[6:] for k in cbucket.list_objects("moved/")) == expected
    assert sorted(read_tree(src)) == sorted(set(FILTER_TREE) - set(expected))


def test_filters_on_single_files_match_the_name(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    b = f"s3://{cbucket.name}"
    f = tmp_path / "d" / "one.txt"
    make_local(tmp_path / "d", ["one.txt"])
    assert run(env, "cp", str(f), f"{b}/", "--exclude", "*.txt").stdout == b""
    assert cbucket.list_objects() == []
    run(env, "cp", str(f), f"{b}/", "--exclude", "*", "--include", "one.*")
    assert cbucket.list_objects() == ["one.txt"]
    run(env, "rm", f"{b}/one.txt", "--exclude", "one.txt")
    assert cbucket.list_objects() == ["one.txt"]
    run(env, "mv", f"{b}/one.txt", f"{b}/two.txt", "--exclude", "o*")
    assert cbucket.list_objects() == ["one.txt"]
    run(env, "rm", f"{b}/one.txt", "--exclude", "*", "--include", "*.txt")
    assert cbucket.list_objects() == []


def test_sync_delete_leaves_excluded_files_alone(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    b = f"s3://{cbucket.name}"
    src = tmp_path / "src"
    make_local(src, ["keep.txt"])
    old = time.time() - 60  # older than the object (RGW's LastModified has whole seconds)
    os.utime(src / "keep.txt", (old, old))
    cbucket.put("d/keep.txt", b"keep.txt")  # the same size, newer: nothing to upload
    put_all(cbucket, ["d/stray.txt", "d/stray.log", "d/n/x.txt", "d/n/y.log"])
    # aws-cli: "files excluded by filters are excluded from deletion"; the later filter wins,
    # so n/x.txt is excluded (by n/*) although it matches the earlier --include
    out = run(env, "sync", "--delete", str(src), f"{b}/d", "--exclude", "*.log", "--include", "*.txt",
              "--exclude", "n/*").stdout.decode()
    assert out.splitlines() == [f"delete: {b}/d/stray.txt"]
    assert sorted(cbucket.list_objects()) == ["d/keep.txt", "d/n/x.txt", "d/n/y.log", "d/stray.log"]
    # the other way: local files excluded by the filters are not deleted either
    down = tmp_path / "down"
    make_local(down, ["local.log", "local.txt", "n/z.txt"])
    run(env, "sync", "--delete", f"{b}/d", str(down), "--exclude", "*", "--include", "*.txt")
    assert sorted(read_tree(down)) == ["keep.txt", "local.log", "n/x.txt"]


# -- 3. symlinks -------------------------------------------------------------------------------


def test_symlinked_directories_are_followed(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    b = f"s3://{cbucket.name}"
    src, other = tmp_path / "src", tmp_path / "other"
    make_local(src, ["a.txt"])
    make_local(other, ["o/1.txt", "2.txt"])
    os.symlink(other, src / "linked")
    os.symlink(src / "a.txt", src / "alias.txt")
    run(env, "cp", "--recursive", str(src), f"{b}/cp")
    assert sorted(cbucket.list_objects("cp/")) == ["cp/a.txt", "cp/alias.txt", "cp/linked/2.txt", "cp/linked/o/1.txt"]
    run(env, "sync", str(src), f"{b}/sync", "--follow-symlinks")
    assert sorted(cbucket.list_objects("sync/")) == ["sync/a.txt", "sync/alias.txt", "sync/linked/2.txt",
                                                     "sync/linked/o/1.txt"]
    assert run(env, "sync", str(src), f"{b}/sync").stdout == b""  # second run: nothing differs
    run(env, "cp", "--recursive", "--no-follow-symlinks", str(src), f"{b}/nofollow")
    assert cbucket.list_objects("nofollow/") == ["nofollow/a.txt"]
    run(env, "sync", "--no-follow-symlinks", str(src), f"{b}/nf-sync")
    assert cbucket.list_objects("nf-sync/") == ["nf-sync/a.txt"]


def test_symlink_loop_terminates_and_uploads_each_file_once(env: dict[str, str], cbucket: S3Bucket,
                                                            tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_local(src, ["d/f.txt", "d/sub/g.txt"])
    os.symlink("../..", src / "d" / "sub" / "up")  # points at src, an ancestor
    p = run(env, "cp", "--recursive", str(src), f"s3://{cbucket.name}/loop")
    assert sorted(cbucket.list_objects()) == ["loop/d/f.txt", "loop/d/sub/g.txt"]
    assert b"warning" in p.stderr and b"loop" in p.stderr and b"d/sub/up" in p.stderr


def test_broken_symlink_warns_and_the_rest_is_copied(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    b = f"s3://{cbucket.name}"
    src = tmp_path / "src"
    make_local(src, ["ok.txt"])
    os.symlink("nowhere", src / "broken.txt")
    p = run(env, "cp", "--recursive", str(src), f"{b}/up")
    assert cbucket.list_objects() == ["up/ok.txt"]
    assert p.stderr.decode().splitlines() == [f"s3kit: warning: skipping {src / 'broken.txt'}: broken symbolic link"]
    # sync --delete does not take a file it could not read for a deleted one
    cbucket.put("up/broken.txt", b"last good copy")
    p = run(env, "sync", "--delete", str(src), f"{b}/up")
    assert cbucket.exists("up/broken.txt") and b"broken symbolic link" in p.stderr


# -- 4. terminal injection ---------------------------------------------------------------------


def test_ls_escapes_hostile_keys_and_json_is_exact(env: dict[str, str], cbucket: S3Bucket) -> None:
    put_all(cbucket, HOSTILE + ["d/" + HOSTILE[0]])
    b = f"s3://{cbucket.name}"
    top = [k for k in HOSTILE if "/" not in k]
    prefixes = ["[red]x[/", "d/"]  # "[red]x[/red].txt" is in a "directory" too
    out = run(env, "ls", f"{b}/").stdout.decode()
    assert_terminal_safe(out, lines=len(top) + len(prefixes))
    for k in top + prefixes:
        assert escaped(k) in out
    assert "evil\\033]0;pwned\\a\\033[2J.txt" in out and "forged\\n(dryrun) delete:" in out
    assert "back\\\\033slash.txt" in out  # a real backslash is doubled, so this is no ESC
    rec = run(env, "ls", "--recursive", b).stdout.decode()
    assert_terminal_safe(rec, lines=len(HOSTILE) + 1)
    for k in HOSTILE + ["d/" + HOSTILE[0]]:
        assert escaped(k) in rec
    got = [json.loads(line) for line in run(env, "ls", "--json", "--recursive", b).stdout.decode().splitlines()]
    assert sorted(x["key"] for x in got) == sorted(HOSTILE + ["d/" + HOSTILE[0]])
    got = [json.loads(line) for line in run(env, "ls", "--json", f"{b}/").stdout.decode().splitlines()]
    assert sorted(x.get("key") or x.get("prefix") for x in got) == sorted(top + prefixes)


def test_printable_names_are_shown_as_they_are(env: dict[str, str], cbucket: S3Bucket) -> None:
    put_all(cbucket, ODD)
    out = run(env, "ls", "--recursive", f"s3://{cbucket.name}").stdout.decode()
    assert [line[31:] for line in out.splitlines()] == sorted(ODD)


def test_rm_cp_sync_escape_hostile_names(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    b = f"s3://{cbucket.name}"
    put_all(cbucket, [f"h/{k}" for k in HOSTILE])
    n = len(HOSTILE)
    outputs = [
        run(env, "rm", "--recursive", "--dryrun", f"{b}/h"),
        run(env, "cp", "--recursive", f"{b}/h", str(tmp_path / "down")),
        run(env, "sync", f"{b}/h", str(tmp_path / "sync")),
        run(env, "sync", str(tmp_path / "down"), f"{b}/up"),
        run(env, "cp", "--recursive", "--dryrun", f"{b}/h", f"{b}/c"),
        run(env, "mv", "--recursive", f"{b}/up", f"{b}/moved"),
    ]
    for p in outputs:
        text = p.stdout.decode()
        assert_terminal_safe(text, lines=n)
        assert escaped(HOSTILE[0]) in text and p.stderr == b""
    assert sorted(read_tree(tmp_path / "down")) == sorted(HOSTILE)  # the files themselves keep their names
    single = run(env, "rm", f"{b}/h/{HOSTILE[1]}").stdout.decode()
    assert single == f"delete: {b}/h/forged\\n(dryrun) delete: everything.txt\n"


def test_errors_and_warnings_are_escaped(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    b = f"s3://{cbucket.name}"
    for args in (["cp", f"{b}/missing\x1b]0;pwned\x07", str(tmp_path / "x")], ["rm", f"{b}/no\nsuch"],
                 ["cp", str(tmp_path / "nope\x1b[2J"), f"{b}/x"], ["ls", "s3://\x1b[2J/"]):
        p = run(env, *args, ok=False)
        assert p.returncode in (1, 2) and p.stderr, args
        assert_terminal_safe(p.stderr.decode()), args
    src = tmp_path / "src"
    make_local(src, ["ok"])
    os.symlink("nowhere", src / "evil\x1b]0;pwned\x07")
    p = run(env, "cp", "--recursive", str(src), f"{b}/w")
    assert_terminal_safe(p.stderr.decode(), lines=1)
    assert "evil\\033]0;pwned\\a" in p.stderr.decode()


def test_json_output_of_transfers_and_deletes_is_exact(env: dict[str, str], cbucket: S3Bucket, tmp_path: Path) -> None:
    b = f"s3://{cbucket.name}"
    put_all(cbucket, [f"h/{k}" for k in HOSTILE])

    def events(*args: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in run(env, *args, "--json").stdout.decode().splitlines()]

    got = events("rm", "--recursive", "--dryrun", f"{b}/h")
    assert sorted(x["path"] for x in got) == sorted(f"{b}/h/{k}" for k in HOSTILE)  # type: ignore[type-var]
    assert all(x["action"] == "delete" and x["dryrun"] is True for x in got)
    got = events("cp", "--recursive", f"{b}/h", str(tmp_path / "d"))
    assert sorted(x["dst"] for x in got) == sorted(os.path.join(os.path.realpath(tmp_path / "d"), k) for k in HOSTILE)  # type: ignore[type-var]
    assert all(x["action"] == "download" and x["dryrun"] is False for x in got)
    got = events("sync", str(tmp_path / "d"), f"{b}/s")
    assert sorted(x["dst"] for x in got) == sorted(f"{b}/s/{k}" for k in HOSTILE)  # type: ignore[type-var]
    got = events("mv", f"{b}/s/{HOSTILE[1]}", f"{b}/m")
    assert got == [{"action": "move", "src": f"{b}/s/{HOSTILE[1]}", "dst": f"{b}/m", "dryrun": False}]
    got = events("rm", f"{b}/m")
    assert got == [{"action": "delete", "path": f"{b}/m", "dryrun": False}]


def test_library_errors_show_keys_with_repr() -> None:
    from s3kit.errors import NoSuchKey

    e = NoSuchKey("The specified key does not exist.", bucket="b", key="evil\x1b]0;x\x07\n\u202e")
    assert not FORBIDDEN.search(str(e)) and "\n" not in str(e)


def test_interleaved_subprocess_output_keeps_one_line_per_event(env: dict[str, str], cbucket: S3Bucket,
                                                                 tmp_path: Path) -> None:
    # many transfers of names holding newlines at high concurrency: one line each, never split
    src = tmp_path / "many"
    names = [f"f{i:02d}\nupload: fake line {i}" for i in range(30)]
    make_local(src, names)
    p = subprocess.run([EXE, "--concurrency", "16", "cp", "--recursive", str(src), f"s3://{cbucket.name}/m/"],
                       env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 30 and all(line.startswith("upload: ") and line.count("upload:") == 3 for line in lines)
