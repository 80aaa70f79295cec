"""--exclude / --include: aws-cli's rules ("Use of Exclude and Include Filters", aws s3 help).

Every path is included by default; the filters are applied in command-line order and the
last one that matches decides. Patterns are fnmatch globs matched against the path
relative to the source directory, and ``*`` matches across ``/``.
"""

from __future__ import annotations

import argparse

import pytest

from s3kit.cli.filters import FilterAction, Filters, relative_name

# The directory of the aws-cli doc's examples, relative to its source directory /tmp/foo
FOO = [".git/config", ".git/description", "foo.txt", "bar.txt", "baz.jpg"]


def kept(rules: list[tuple[str, str]], names: list[str] = FOO) -> list[str]:
    f = Filters(rules)
    return [n for n in names if f.included(n)]


@pytest.mark.parametrize("rules, expected", [
    ([], FOO),  # all files are included by default
    ([("include", "*.txt")], FOO),  # an include alone changes nothing
    ([("exclude", ".git/*")], ["foo.txt", "bar.txt", "baz.jpg"]),
    ([("exclude", "ba*")], [".git/config", ".git/description", "foo.txt"]),
    ([("exclude", "*"), ("include", "*.txt")], ["foo.txt", "bar.txt"]),
    ([("include", "*.txt"), ("exclude", "*")], []),  # the later filter wins: all excluded
    ([("exclude", "*"), ("include", "*.jpg")], ["baz.jpg"]),
    ([("exclude", "*"), ("include", "*.jpg"), ("include", "*.txt")], ["foo.txt", "bar.txt", "baz.jpg"]),
])
def test_aws_doc_examples(rules: list[tuple[str, str]], expected: list[str]) -> None:
    assert kept(rules) == expected


def test_order_decides_between_interleaved_filters() -> None:
    names = ["n/a.txt", "n/b.log", "top.txt", "top.log"]
    # the example: an include before an exclude is overridden by it
    assert kept([("include", "*.txt"), ("exclude", "n/*")], names) == ["top.txt", "top.log"]
    assert kept([("exclude", "n/*"), ("include", "*.txt")], names) == ["n/a.txt", "top.txt", "top.log"]
    assert kept([("exclude", "*.txt"), ("include", "n/*")], names) == ["n/a.txt", "n/b.log", "top.log"]
    rules = [("exclude", "*"), ("include", "n/*"), ("exclude", "*.log")]
    assert kept(rules, names) == ["n/a.txt"]


def test_glob_syntax_and_star_crosses_slashes() -> None:
    names = ["a.txt", "d/a.txt", "d/e/a.txt", "ab", "ac", "a/", "[x]"]
    assert kept([("exclude", "*.txt")], names) == ["ab", "ac", "a/", "[x]"]  # * matches "d/e/"
    assert kept([("exclude", "d/*")], names) == ["a.txt", "ab", "ac", "a/", "[x]"]
    assert kept([("exclude", "a?")], names) == ["a.txt", "d/a.txt", "d/e/a.txt", "[x]"]  # ? matches "/" too
    assert kept([("exclude", "a[b]")], names) == ["a.txt", "d/a.txt", "d/e/a.txt", "ac", "a/", "[x]"]
    assert kept([("exclude", "a[!b]")], names) == ["a.txt", "d/a.txt", "d/e/a.txt", "ab", "[x]"]
    assert kept([("exclude", "[[]x]")], names) == names[:-1]


def test_patterns_are_relative_to_the_source_and_case_sensitive() -> None:
    # a pattern is the rest of the path after the source directory: no leading "/" or "./"
    assert kept([("exclude", "/foo.txt")]) == FOO
    assert kept([("exclude", "./foo.txt")]) == FOO
    assert kept([("exclude", "FOO.TXT")]) == FOO
    assert kept([("exclude", "foo.txt")]) == [n for n in FOO if n != "foo.txt"]


def test_control_characters_and_unicode_are_ordinary_characters() -> None:
    names = ["new\nline.txt", "evil\x1b]0;pwned\x07.txt", "ünï/κλειδί.txt", "[red]x[/red]"]
    assert kept([("exclude", "*"), ("include", "*.txt")], names) == names[:3]
    assert kept([("exclude", "new?line*")], names) == names[1:]
    assert kept([("exclude", "ünï/*")], names) == [names[0], names[1], names[3]]


def test_relative_name_of_a_single_source() -> None:
    # a single file is matched by its name, relative to the directory holding it (aws-cli)
    assert relative_name("dir/sub/file.txt") == "file.txt"
    assert relative_name("file.txt") == "file.txt"
    assert relative_name("dir/") == ""  # an S3 "folder" object named by its key


def test_argparse_keeps_the_relative_order_of_both_options() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--exclude", action=FilterAction, dest="filters", metavar="GLOB")
    p.add_argument("--include", action=FilterAction, dest="filters", metavar="GLOB")
    a = p.parse_args(["--include", "*.txt", "--exclude", "n/*", "--include", "n/keep", "--exclude", "x"])
    assert a.filters == [("include", "*.txt"), ("exclude", "n/*"), ("include", "n/keep"), ("exclude", "x")]
    assert p.parse_args([]).filters == []
    # the default list is not shared between parses
    p.parse_args(["--exclude", "a"])
    assert p.parse_args([]).filters == []
