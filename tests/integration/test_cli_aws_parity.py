"""The real aws-cli as the oracle: the same command, run by ``aws s3`` and by ``s3kit`` on
twin copies of the same data (two buckets, two directories) on the same Ceph RGW, must
leave the same keys and files behind.

What is compared is the effect (the keys and files left), not the printed text: aws-cli
prints keys raw, so a key holding a newline makes its output ambiguous, while the
effect is exact for any name. ``ls`` output is compared as text on printable names.

awscli is in the ``test`` extra; without it these tests skip, except under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from s3kit import S3Bucket
from tests.conftest import IN_CI, empty_and_delete, make_client, unique_bucket_name
from tests.integration import test_cli
from tests.integration.test_cli import read_tree, run

env = test_cli.env  # the fixture of test_cli.py, shared

AWS = shutil.which("aws", path=os.path.dirname(sys.executable))

LOGS_S3 = ["logs", "logs/a", "logs/b/c", "logs-old/x", "logsx", "logs.txt"]
# a local tree cannot hold the file "logs" and the directory "logs/" at once
LOGS_LOCAL = ["logs/a", "logs/b/c", "logs-old/x", "logsx", "logs.txt"]
NESTED = ["n/a.txt", "n/b.log", "n/m/c.txt", "top.txt", "top.log"]
ODD = ["with space.txt", "plus+sign.txt", "pct%20.txt", "ünï/κλειδί.txt", "q?mark#hash"]
HOSTILE = ["evil\x1b]0;pwned\x07\x1b[2J.txt", "new\nline.txt", "[red]x[/red]", "back\\slash.log",
           "bidi\u202etxt.exe"]
LOCAL_TREE = LOGS_LOCAL + NESTED + ODD + HOSTILE
S3_TREE = LOGS_S3 + NESTED + ODD + HOSTILE

FILTERS = [
    [],
    ["--exclude", "*", "--include", "*.txt"],  # the aws doc's examples
    ["--include", "*.txt", "--exclude", "*"],
    ["--exclude", "*.txt", "--include", "n/*"],
    ["--include", "*.txt", "--exclude", "n/*"],  # the example
    ["--exclude", "n/*", "--include", "n/m/*", "--exclude", "*.log"],
    ["--exclude", "*\n*", "--exclude", "[[]*", "--include", "?vil*", "--exclude", "logs*"],
]
FILTER_IDS = ["none", "ex*-in.txt", "in.txt-ex*", "ex.txt-in_n", "in.txt-ex_n", "three", "odd"]


@pytest.fixture(scope="module")
def aws_env(ceph_server: object, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if AWS is None:
        if IN_CI:
            pytest.fail("awscli is not installed but CI=true: pip install -e '.[test]'")
        pytest.skip("awscli not installed (it is in the test extra: pip install -e '.[test]')")
    s = ceph_server
    d = tmp_path_factory.mktemp("awscfg")
    # our own config files, so the user's ~/.aws is never read; path-style for an IP endpoint
    (d / "config").write_text("[default]\ns3 =\n    addressing_style = path\n")
    (d / "credentials").write_text("")
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(AWS_ACCESS_KEY_ID=s.access_key, AWS_SECRET_ACCESS_KEY=s.secret_key,  # type: ignore[attr-defined]
             AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(d / "config"),
             AWS_SHARED_CREDENTIALS_FILE=str(d / "credentials"), AWS_EC2_METADATA_DISABLED="true",
             AWS_ENDPOINT_URL=s.endpoint, PYTHONIOENCODING="utf-8")  # type: ignore[attr-defined]
    return e


def aws(aws_env: dict[str, str], *args: str, rcs: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[bytes]:
    extra = [] if args[0] == "ls" else ["--only-show-errors"]
    p = subprocess.run([str(AWS), "s3", *args, *extra, "--endpoint-url", aws_env["AWS_ENDPOINT_URL"]],
                       env=aws_env, capture_output=True, timeout=120)
    assert p.returncode in rcs, (args, p.returncode, p.stdout.decode(errors="replace"),
                                 p.stderr.decode(errors="replace"))
    return p


@pytest.fixture()
def buckets(ceph_server: object) -> Iterator[Callable[[list[str]], S3Bucket]]:
    """A factory of fresh buckets holding the given keys (each key's bytes are its name)."""
    c = make_client(ceph_server)  # type: ignore[arg-type]
    made: list[str] = []

    def make(keys: list[str]) -> S3Bucket:
        name = unique_bucket_name("par")
        made.append(name)
        b = c.create_bucket(name)
        for k in keys:
            b.put(k, k.encode())
        return b

    yield make
    for name in made:
        empty_and_delete(c, name)


def make_local(root: Path, names: list[str]) -> Path:
    for rel in names:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    return root


def keys(b: S3Bucket, prefix: str = "") -> list[str]:
    return sorted(b.list_objects(prefix))


class Twins:
    """Run one command with both tools; ``{b}`` in an argument is each tool's own bucket
    URL and ``{d}`` each tool's own local directory."""

    def __init__(self, aws_env: dict[str, str], env: dict[str, str], a: S3Bucket, k: S3Bucket,
                 tmp: Path) -> None:
        self.aws_env, self.env, self.buckets, self.tmp = aws_env, env, (a, k), tmp
        self.dirs = (tmp / "aws", tmp / "s3kit")

    def both(self, *args: str, rcs: tuple[int, ...] = (0,)) -> None:
        for i, (b, d) in enumerate(zip(self.buckets, self.dirs, strict=True)):
            argv = [x.replace("{b}", f"s3://{b.name}").replace("{d}", str(d)) for x in args]
            if i == 0:
                aws(self.aws_env, *argv, rcs=rcs)
            else:
                p = run(self.env, *argv, ok=False)
                assert p.returncode == 0, (argv, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))

    def assert_same(self) -> None:
        a, k = self.buckets
        assert keys(a) == keys(k)
        assert read_tree(self.dirs[0]) == read_tree(self.dirs[1])


@pytest.fixture()
def twins(aws_env: dict[str, str], env: dict[str, str], buckets: Callable[[list[str]], S3Bucket],
          tmp_path: Path) -> Callable[[list[str], list[str]], Twins]:
    def make(s3_keys: list[str], local: list[str]) -> Twins:
        t = Twins(aws_env, env, buckets(s3_keys), buckets(s3_keys), tmp_path)
        for d in t.dirs:
            d.mkdir()
            make_local(d, local)
        return t

    return make


# -- rm: a recursive argument is a directory; filters -------------------------------------


@pytest.mark.parametrize("path", ["logs", "logs/", "logs/b", "", "n"])
def test_rm_recursive(twins: Callable[[list[str], list[str]], Twins], path: str) -> None:
    t = twins(S3_TREE + ["logs/"], [])  # with a "folder" marker object too
    t.both("rm", "--recursive", "{b}/" + path)
    t.assert_same()
    assert len(keys(t.buckets[1])) < len(S3_TREE) + 1  # it did delete something


@pytest.mark.parametrize("filters", FILTERS, ids=FILTER_IDS)
def test_rm_recursive_with_filters(twins: Callable[[list[str], list[str]], Twins], filters: list[str]) -> None:
    t = twins(S3_TREE, [])
    t.both("rm", "--recursive", "{b}", *filters)
    t.both("rm", "--recursive", "{b}/logs", *filters)
    t.assert_same()


def test_rm_single_key_with_filters(twins: Callable[[list[str], list[str]], Twins]) -> None:
    t = twins(S3_TREE, [])
    # (s3kit's rm of a missing key fails where aws-cli's succeeds: each key is removed once)
    for key, filters in [("logs.txt", ["--exclude", "*.txt"]), ("logs.txt", ["--exclude", "logs*"]),
                         ("n/a.txt", ["--exclude", "n/*"]),  # "n/*" is relative to n/: it does not match
                         ("top.txt", ["--exclude", "*", "--include", "t*"]),
                         ("n/b.log", ["--exclude", "*", "--include", "b.*"]),
                         (HOSTILE[1], ["--exclude", "new?line*"]), (HOSTILE[0], ["--exclude", "*.log"])]:
        t.both("rm", "{b}/" + key, *filters)
        t.assert_same()
    assert len(keys(t.buckets[1])) == len(S3_TREE) - 4  # n/a.txt, top.txt, n/b.log and HOSTILE[0]


# -- cp / mv / sync with filters, every direction -----------------------------------------


@pytest.mark.parametrize("filters", FILTERS, ids=FILTER_IDS)
def test_transfers_with_filters(twins: Callable[[list[str], list[str]], Twins], buckets: Callable[[list[str]], S3Bucket],
                                tmp_path: Path, filters: list[str]) -> None:
    src = make_local(tmp_path / "src", LOCAL_TREE)
    other = buckets(LOCAL_TREE)  # an S3 source holding the local tree
    t = twins([], [])
    t.both("cp", "--recursive", str(src), "{b}/up", *filters)  # local -> s3
    t.both("cp", "--recursive", f"s3://{other.name}", "{d}/down", *filters)  # s3 -> local
    t.both("cp", "--recursive", f"s3://{other.name}/n", "{b}/copy", *filters)  # s3 -> s3
    t.both("sync", str(src), "{b}/sync", *filters)
    t.both("sync", f"s3://{other.name}/", "{d}/sync", *filters)
    t.both("mv", "--recursive", "{d}/down", "{b}/moved", *filters)  # local -> s3, moving
    t.both("mv", "--recursive", "{b}/up/logs", "{b}/mv-s3", *filters)  # s3 -> s3, moving
    t.assert_same()


@pytest.mark.parametrize("filters", FILTERS, ids=FILTER_IDS)
def test_sync_delete_with_filters(twins: Callable[[list[str], list[str]], Twins], filters: list[str],
                                  tmp_path: Path) -> None:
    stray = ["dst/stray.txt", "dst/stray.log", "dst/n/x.txt", "dst/n/m/y.log", "dst/new\nstray.txt", "dst/logsx"]
    src = make_local(tmp_path / "src", NESTED + HOSTILE[:2] + ["logs/a"])
    local_stray = ["n/local.txt", "local.log", "[red]local.txt", "top.txt"]
    t = twins(NESTED + stray, local_stray)
    t.both("sync", "--delete", str(src), "{b}/dst", *filters)  # local -> s3
    t.both("sync", "--delete", "{b}", "{d}", *filters)  # s3 -> local (the whole bucket)
    t.assert_same()


def test_sync_delete_s3_to_s3_with_filters(twins: Callable[[list[str], list[str]], Twins]) -> None:
    t = twins(["src/" + k for k in NESTED + HOSTILE] + ["dst/stray.txt", "dst/stray.log", "dst/n/m/z.txt"], [])
    for filters in (FILTERS[2], FILTERS[4], FILTERS[1], FILTERS[3]):  # each run can change something
        t.both("sync", "--delete", "{b}/src", "{b}/dst", *filters)
        t.assert_same()


def test_single_file_transfers_with_filters(twins: Callable[[list[str], list[str]], Twins], tmp_path: Path) -> None:
    f = make_local(tmp_path / "one", ["one.txt"]) / "one.txt"
    t = twins(["k/one.txt"], [])
    for filters in (["--exclude", "*.txt"], ["--exclude", "*", "--include", "one.*"], ["--exclude", "one.txt"]):
        t.both("cp", str(f), "{b}/" + filters[-1].replace("*", "star") + "/", *filters)
        t.both("cp", "{b}/k/one.txt", "{d}/" + filters[-1].replace("*", "star"), *filters)
        t.both("cp", "{b}/k/one.txt", "{b}/c/" + filters[-1].replace("*", "star"), *filters)
    t.assert_same()


# -- symlinks -------------------------------------------------------------------------------


def test_symlinks_followed_or_not_like_aws(twins: Callable[[list[str], list[str]], Twins], tmp_path: Path) -> None:
    src = make_local(tmp_path / "src", ["a.txt", "d/b.txt"])
    other = make_local(tmp_path / "other", ["o1.txt", "deep/o2.log"])
    os.symlink(other, src / "dirlink")
    os.symlink(src / "a.txt", src / "filelink.txt")
    os.symlink(src / "d", src / "d-again")  # the same directory under a second name: listed twice
    os.symlink("nowhere", src / "broken")  # aws-cli: a warning, and exit code 2
    t = twins([], [])
    t.both("cp", "--recursive", str(src), "{b}/follow", rcs=(2,))
    t.both("sync", str(src), "{b}/sync", "--exclude", "*.log", rcs=(2,))
    t.both("cp", "--recursive", "--no-follow-symlinks", str(src), "{b}/nofollow")
    t.both("sync", "--no-follow-symlinks", str(src), "{b}/nf-sync")
    t.assert_same()
    assert keys(t.buckets[1], "follow/") == ["follow/a.txt", "follow/d-again/b.txt", "follow/d/b.txt",
                                             "follow/dirlink/deep/o2.log", "follow/dirlink/o1.txt",
                                             "follow/filelink.txt"]


# -- ls: compared as text, on printable names ------------------------------------------------


def test_ls_shows_what_aws_shows(aws_env: dict[str, str], env: dict[str, str],
                                 buckets: Callable[[list[str]], S3Bucket]) -> None:
    b = buckets(LOGS_S3 + NESTED + ODD + ["logs/"])

    def names(out: bytes) -> list[str]:
        return [line[31:] for line in out.decode().splitlines()]  # after the date and size columns

    for args in (["{b}"], ["{b}/"], ["{b}/logs"], ["{b}/logs/"], ["{b}/lo"], ["{b}/ünï/"], ["{b}/logs/b/c"],
                 ["--recursive", "{b}/logs"], ["--recursive", "{b}/logs/"], ["--recursive", "{b}"]):
        argv = [x.replace("{b}", f"s3://{b.name}") for x in args]
        theirs = names(aws(aws_env, "ls", *argv).stdout)
        assert theirs, ("aws listed nothing", args)
        assert names(run(env, "ls", *argv).stdout) == theirs, args
