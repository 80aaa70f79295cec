"""fork() hygiene: objects holding sockets or locks reset themselves in a forked child.

A child process inherits its parent's keep-alive sockets and any lock another thread held
at the moment of fork(). Sharing a socket makes parent and child read each other's answers
(a wrong object with a consistent ETag); an inherited held lock deadlocks the child. Objects
that own either register here; ``os.register_at_fork`` calls their ``_after_fork()`` in the
child. Pools also compare ``os.getpid()`` on every use, which covers forks that bypass
Python's hooks (a fork() from C code).
"""

from __future__ import annotations

import os
from _weakrefset import WeakSet  # what weakref.WeakSet is, without weakref's other imports

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from typing import Protocol

    class ForkAware(Protocol):
        def _after_fork(self) -> None: ...

__all__ = ["register", "getpid"]

getpid = os.getpid
_objects: WeakSet[ForkAware] = WeakSet()
_hooked = False


def _in_child() -> None:
    for obj in list(_objects):
        obj._after_fork()


def register(obj: ForkAware) -> None:
    """Call ``obj._after_fork()`` in every child forked while ``obj`` is alive."""
    global _hooked
    if not _hooked and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_in_child)
        _hooked = True
    _objects.add(obj)
