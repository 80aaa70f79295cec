"""The ``s3kit`` logger, without importing ``logging`` for nothing (10 ms here).

If the application has not imported ``logging``, no handler exists that could show a
DEBUG or INFO record, so those are dropped without importing it. WARNING and above always
go through ``logging`` (and, with no handler configured, to its last-resort stderr
handler, as any library's warnings do).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

__all__ = ["logger"]

_real: logging.Logger | None = None


def _logger() -> logging.Logger:
    global _real
    if _real is None:
        import logging

        _real = logging.getLogger("s3kit")
    return _real


class _Logger:
    """The few ``logging.Logger`` methods s3kit uses."""

    __slots__ = ()

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        if level < 30 and "logging" not in sys.modules:
            return False
        return _logger().isEnabledFor(level)

    def debug(self, msg: str, *args: object) -> None:
        if "logging" in sys.modules:
            _logger().debug(msg, *args)

    def info(self, msg: str, *args: object) -> None:
        if "logging" in sys.modules:
            _logger().info(msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        _logger().warning(msg, *args)


_LOGGER = _Logger()


def logger() -> _Logger:
    return _LOGGER
