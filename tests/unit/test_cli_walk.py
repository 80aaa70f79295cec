"""Walking a local source tree: symlinks followed by default (as aws-cli does), loops cut,
broken links and special files skipped with a warning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3kit.cli.walk import walk


def tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def test_plain_tree_with_odd_names(tmp_path: Path) -> None:
    names = {"a.txt": b"a", "d/e/f.bin": b"ff", "new\nline": b"n", "evil\x1b]0;x\x07": b"e", "ünï/κ.txt": b"u"}
    tree(tmp_path, names)
    t = walk(str(tmp_path))
    assert sorted(t.files) == sorted(names)
    assert t.files["d/e/f.bin"].path == os.path.join(str(tmp_path), "d", "e", "f.bin")
    assert t.files["d/e/f.bin"].size == 2
    assert t.files["a.txt"].mtime == os.stat(tmp_path / "a.txt").st_mtime
    assert t.warnings == [] and t.skipped == set()


def test_symlinked_directories_and_files_are_followed(tmp_path: Path) -> None:
    src, other = tmp_path / "src", tmp_path / "other"
    tree(src, {"a.txt": b"a"})
    tree(other, {"o1": b"1", "deep/o2": b"22"})
    os.symlink(other, src / "dirlink")
    os.symlink(src / "a.txt", src / "filelink")
    t = walk(str(src))
    assert sorted(t.files) == ["a.txt", "dirlink/deep/o2", "dirlink/o1", "filelink"]
    assert t.files["dirlink/deep/o2"].path == os.path.join(str(src), "dirlink", "deep", "o2")
    assert t.files["dirlink/deep/o2"].size == 2 and t.files["filelink"].size == 1


def test_no_follow_skips_symlinks_silently(tmp_path: Path) -> None:
    src, other = tmp_path / "src", tmp_path / "other"
    tree(src, {"a.txt": b"a"})
    tree(other, {"o1": b"1"})
    os.symlink(other, src / "dirlink")
    os.symlink(src / "a.txt", src / "filelink")
    os.symlink("nowhere", src / "broken")
    t = walk(str(src), follow_symlinks=False)
    assert sorted(t.files) == ["a.txt"] and t.warnings == []


def test_the_root_itself_may_be_a_symlink(tmp_path: Path) -> None:
    tree(tmp_path / "real", {"x": b"x"})
    os.symlink(tmp_path / "real", tmp_path / "link")
    # the directory named on the command line is always read, even with --no-follow-symlinks
    assert sorted(walk(str(tmp_path / "link"), follow_symlinks=False).files) == ["x"]
    assert sorted(walk(str(tmp_path / "link")).files) == ["x"]


def test_a_loop_terminates_and_each_file_is_listed_once(tmp_path: Path) -> None:
    src = tmp_path / "src"
    tree(src, {"d/f": b"1", "d/sub/g": b"2"})
    os.symlink("../..", src / "d" / "sub" / "up")  # -> src: an ancestor
    os.symlink(".", src / "d" / "self")  # -> d itself
    t = walk(str(src))
    assert sorted(t.files) == ["d/f", "d/sub/g"]
    assert len(t.warnings) == 2 and all("loop" in w for w in t.warnings), t.warnings
    assert any(f"skipping {os.path.join(str(src), 'd', 'sub', 'up')}: " in w for w in t.warnings)


def test_the_same_directory_through_two_links_is_listed_under_both(tmp_path: Path) -> None:
    # not a loop (aws-cli lists it twice too): each path gets its own copy
    tree(tmp_path / "shared", {"s": b"s"})
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(tmp_path / "shared", src / "l1")
    os.symlink(tmp_path / "shared", src / "l2")
    assert sorted(walk(str(src)).files) == ["l1/s", "l2/s"]


def test_broken_links_and_special_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    src = tmp_path / "src"
    tree(src, {"ok": b"ok", "d/ok2": b"2"})
    os.symlink("nowhere", src / "broken")
    os.symlink("../missing-dir", src / "d" / "brokendir")
    os.symlink("self-loop", src / "self-loop")  # ELOOP when followed
    os.mkfifo(src / "fifo")
    t = walk(str(src))
    assert sorted(t.files) == ["d/ok2", "ok"]
    assert t.skipped == {"broken", "d/brokendir", "self-loop", "fifo"}
    text = "\n".join(t.warnings)
    assert len(t.warnings) == 4
    for rel in ("broken", "d/brokendir", "self-loop", "fifo"):
        assert os.path.join(str(src), rel) in text


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_unreadable_directory_is_skipped_with_a_warning(tmp_path: Path) -> None:
    src = tmp_path / "src"
    tree(src, {"ok": b"ok", "locked/x": b"x"})
    os.chmod(src / "locked", 0)
    try:
        t = walk(str(src))
    finally:
        os.chmod(src / "locked", 0o755)
    assert sorted(t.files) == ["ok"] and t.skipped == {"locked"} and len(t.warnings) == 1


def test_deep_tree_needs_no_recursion(tmp_path: Path) -> None:
    import sys

    depth = sys.getrecursionlimit() + 50
    dirs = [tmp_path.joinpath(*["d"] * i) for i in range(1, depth + 1)]
    try:
        for d in dirs:
            try:
                d.mkdir()
            except OSError:  # path too long for this file system
                pytest.skip("file system limits the depth")
        (dirs[-1] / "f").write_bytes(b"f")
        assert list(walk(str(tmp_path)).files) == ["d/" * depth + "f"]
    finally:
        # bottom-up by hand: shutil.rmtree (and so pytest's cleanup of old tmp dirs) recurses
        (dirs[-1] / "f").unlink(missing_ok=True)
        for d in reversed(dirs):
            if d.exists():
                d.rmdir()
