"""The async client mirrors the sync one: same public names, parameters, kinds and defaults.

Enumerates both APIs, so a method or keyword added to one side only fails here.
"""

from __future__ import annotations

import inspect

import pytest

from s3kit import AsyncS3Bucket, AsyncS3Client, S3Bucket, S3Client
from s3kit.aio.uploads import AsyncMultipartWriter
from s3kit.uploads import MultipartWriter

PAIRS = [(S3Client, AsyncS3Client), (S3Bucket, AsyncS3Bucket), (MultipartWriter, AsyncMultipartWriter)]

# no I/O: plain methods on both sides
SYNC_ON_BOTH = {"bucket", "open"}
# the context-manager protocol is spelled differently; close() is awaited on the async side
RENAMED = {"__enter__": "__aenter__", "__exit__": "__aexit__"}


def public(cls: type) -> dict[str, object]:
    out = {}
    for name in dir(cls):
        if name.startswith("_") and name not in RENAMED and name not in RENAMED.values():
            continue
        out[name] = getattr(cls, name)
    return out


def params(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize(("sync", "aio"), PAIRS)
def test_same_public_surface(sync: type, aio: type) -> None:
    s, a = public(sync), public(aio)
    expected = {RENAMED.get(n, n) for n in s}
    assert expected == set(a), (expected ^ set(a))


@pytest.mark.parametrize(("sync", "aio"), PAIRS)
def test_same_parameters_and_defaults(sync: type, aio: type) -> None:
    for name, member in public(sync).items():
        other = getattr(aio, RENAMED.get(name, name))
        if isinstance(member, property):
            assert isinstance(other, property), name
            continue
        if not callable(member):
            continue
        if name in RENAMED:
            continue
        assert params(member) == params(other), name


@pytest.mark.parametrize(("sync", "aio"), PAIRS)
def test_io_methods_are_awaitable(sync: type, aio: type) -> None:
    for name, member in public(aio).items():
        if isinstance(member, property) or not callable(member) or name.startswith("__a"):
            continue
        if name in SYNC_ON_BOTH or name.startswith("__"):
            assert not inspect.iscoroutinefunction(member), name
        elif name == "iter_objects":
            assert inspect.isasyncgenfunction(member) and inspect.isgeneratorfunction(getattr(sync, name))
        else:
            assert inspect.iscoroutinefunction(member), f"{aio.__name__}.{name} should be async"
            assert not inspect.iscoroutinefunction(getattr(sync, name)), name


def test_same_constructor_and_docstrings() -> None:
    assert params(S3Client.__init__) == params(AsyncS3Client.__init__)
    for sync, aio in PAIRS:
        for name, member in public(sync).items():
            if callable(member) and not name.startswith("__"):
                assert getattr(aio, RENAMED.get(name, name)).__doc__ or not member.__doc__, name  # type: ignore[union-attr]
