"""``--exclude`` / ``--include`` with aws-cli's rules. Pure.

aws-cli ("Use of Exclude and Include Filters" in ``aws s3 help``): every path is included
by default; the filters are applied in the order given on the command line and the last
one that matches decides; a pattern is an fnmatch glob (``*``, ``?``, ``[seq]``,
``[!seq]``; ``*`` and ``?`` match ``/`` too) evaluated against the path with the source
directory in front. aws-cli does that by prefixing each pattern with the source directory
and matching whole paths; matching the path *relative* to the source directory against
the bare pattern is the same test, without letting glob characters in the directory's own
name (a folder called ``[x]``) act as a pattern. For a single file the source directory is
the one holding it, so the pattern is matched against the file's name.

For ``sync --delete`` the destination's files are matched the same way against the
destination directory, so that a file the filters exclude is neither copied nor deleted.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidArgument

__all__ = ["FilterAction", "Filters", "Rule", "relative_name"]

Rule = tuple[str, str]  # ("exclude" | "include", glob)


class Filters:
    """The filters of one command, compiled once."""

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        for kind, _ in rules:
            if kind not in ("exclude", "include"):
                raise InvalidArgument(f"filter kind must be 'exclude' or 'include', got {kind!r}")
        # fnmatchcase: case-sensitive everywhere, as aws-cli is on POSIX (fnmatch.fnmatch
        # would fold case on Windows); translate() makes "*" match "/" as fnmatch does
        self._rules = [(kind == "include", re.compile(fnmatch.translate(glob), re.DOTALL)) for kind, glob in rules]

    def __bool__(self) -> bool:
        return bool(self._rules)

    def included(self, rel: str) -> bool:
        """Whether ``rel`` (a path relative to the source directory, ``/``-separated) is kept."""
        keep = True
        for include, rx in self._rules:
            if rx.match(rel):
                keep = include
        return keep


def relative_name(path: str) -> str:
    """What filters see of a single file or key: its name in the directory holding it."""
    return path.rsplit("/", 1)[-1]


class FilterAction(argparse.Action):
    """``--exclude GLOB`` / ``--include GLOB`` appending ``(kind, GLOB)`` to one list, so the
    relative order of the two options survives parsing (two append actions would not keep it)."""

    def __init__(self, option_strings: Sequence[str], dest: str, default: Any = None, **kw: Any) -> None:
        super().__init__(option_strings, dest, default=[] if default is None else default, **kw)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        kind = (option_string or "").lstrip("-")
        if kind not in ("exclude", "include"):
            raise InvalidArgument(f"FilterAction serves --exclude and --include, not {option_string!r}")
        rules = list(getattr(namespace, self.dest, None) or [])  # a copy: never append to the default
        rules.append((kind, str(values)))
        setattr(namespace, self.dest, rules)
