"""Progress bars for transfers (rich), shown only on a terminal and never with --quiet."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from .escape import escape_tail


class Cancelled(Exception):
    """Raised inside transfers when the user pressed Ctrl-C, so they clean up."""


class Display:
    """Per-file bars plus a total bar. With ``enabled=False`` every method is a no-op."""

    def __init__(self, enabled: bool, total_files: int = 0, total_bytes: int | None = None) -> None:
        self.cancel = threading.Event()
        self._progress: Any = None
        self._total_task: Any = None
        self._lock = threading.Lock()
        if enabled:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                    TransferSpeedColumn,
                )
            except ImportError:  # the library works without the cli extra
                return
            # markup=False: a description is a file name, shown as it is. With markup, rich
            # would read "[red]x[/red]" as style tags and ":smile:" as an emoji code
            # (rich.markup.escape covers the first, not the second)
            self._progress = Progress(
                TextColumn("{task.description}", justify="left", markup=False), BarColumn(), DownloadColumn(),
                TransferSpeedColumn(), TimeRemainingColumn(), console=Console(file=sys.stderr),
                transient=False,
            )
            self._progress.start()
            if total_files > 1:
                self._total_task = self._progress.add_task(f"total ({total_files} files)", total=total_bytes)

    def file(self, name: str, size: int | None) -> Callable[[int, int | None], None]:
        """A ``progress(done, total)`` callback for one file; raises Cancelled after Ctrl-C."""
        task = None
        if self._progress is not None:
            # escaped first (a name must not drive the terminal), then shortened between escapes
            task = self._progress.add_task(escape_tail(name, 49), total=size)
        last = [0]

        def update(done: int, total: int | None) -> None:
            if self.cancel.is_set():
                raise Cancelled()
            if task is not None:
                with self._lock:
                    self._progress.update(task, completed=done, total=total)
                    if self._total_task is not None:
                        self._progress.advance(self._total_task, done - last[0])
                    last[0] = done

        return update

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
