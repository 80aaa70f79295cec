"""The ``s3kit`` logger, created on first use (importing ``logging`` costs start-up time)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

_logger: logging.Logger | None = None


def logger() -> logging.Logger:
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("s3kit")
    return _logger
