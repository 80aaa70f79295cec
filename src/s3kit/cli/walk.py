"""Listing a local source tree for upload and sync. Reads the file system; prints nothing.

Symbolic links are followed by default, as aws-cli does: a link to a file is that file, a
link to a directory is walked like a directory. Unlike aws-cli (which recurses through a
link to an ancestor until the path is too long, listing the same files dozens of times),
a directory that is already on the current path (same ``st_dev``/``st_ino``) is a loop
and is skipped with a warning. The same directory reached through two links that do not
loop is listed under both names, as aws-cli does.

With ``follow_symlinks=False`` every symlink inside the tree is skipped silently (aws-cli's
``--no-follow-symlinks``). The root itself is always read: the user named it.

Broken links, FIFOs, sockets, devices and unreadable directories are skipped with a
warning (a FIFO would block the upload forever) and reported in ``skipped``, so that
``sync --delete`` does not take a file it could not read for one that was deleted.
"""

from __future__ import annotations

import os
import stat
from typing import NamedTuple

__all__ = ["LocalFile", "Tree", "walk"]


class LocalFile(NamedTuple):
    path: str  # the root as given, joined with the relative path (links not resolved)
    size: int
    mtime: float


class Tree(NamedTuple):
    files: dict[str, LocalFile]  # "/"-separated path relative to the root -> the file
    warnings: list[str]  # one line each, not escaped: the caller prints them
    skipped: set[str]  # relative paths skipped with a warning (a directory stands for all below it)


class _Dir(NamedTuple):
    path: str
    rel: str  # "" for the root, else "a/b/" (with the trailing slash)
    ancestors: frozenset[tuple[int, int]]  # (st_dev, st_ino) of it and every directory above it


def walk(root: str, follow_symlinks: bool = True) -> Tree:
    """Every regular file under ``root`` (a directory)."""
    files: dict[str, LocalFile] = {}
    warnings: list[str] = []
    skipped: set[str] = set()
    st = os.stat(root)
    stack = [_Dir(root, "", frozenset({(st.st_dev, st.st_ino)}))]
    while stack:  # iterative: a deep tree cannot exhaust Python's recursion limit
        d = stack.pop()
        try:
            with os.scandir(d.path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            warnings.append(f"skipping {d.path}: {e.strerror or e}")
            skipped.add(d.rel.rstrip("/"))
            continue
        subdirs = []
        for entry in entries:
            rel = d.rel + entry.name
            path = os.path.join(d.path, entry.name)
            try:
                is_link = entry.is_symlink()
                if is_link and not follow_symlinks:
                    continue
                st = os.stat(path) if is_link else entry.stat(follow_symlinks=False)
            except OSError as e:
                # a broken link (ENOENT), a cycle of links (ELOOP), a file that vanished
                reason = "broken symbolic link" if os.path.islink(path) else (e.strerror or str(e))
                warnings.append(f"skipping {path}: {reason}")
                skipped.add(rel)
                continue
            if stat.S_ISDIR(st.st_mode):
                ident = (st.st_dev, st.st_ino)
                if ident in d.ancestors:
                    warnings.append(f"skipping {path}: symbolic link loop (it leads back to a directory above it)")
                    continue
                subdirs.append(_Dir(path, rel + "/", d.ancestors | {ident}))
            elif stat.S_ISREG(st.st_mode):
                files[rel] = LocalFile(path, st.st_size, st.st_mtime)
            else:
                warnings.append(f"skipping {path}: not a regular file (FIFO, socket or device)")
                skipped.add(rel)
        stack.extend(reversed(subdirs))  # depth-first, in name order
    return Tree(files, warnings, skipped)
