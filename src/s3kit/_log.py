"""The ``s3kit`` logger, created on first use (importing ``logging`` costs start-up time)."""

from __future__ import annotations

from typing import Any

_logger: Any = None


def logger() -> Any:
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("s3kit")
    return _logger
