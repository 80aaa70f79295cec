"""The sync driver: runs a flow (see ``flow.py``) with blocking I/O, and ``Gather`` on threads.

One function, :func:`run`, is the whole driver: it hands each action to the transport, the
clock or the calling thread, and sends the result (or throws the error) back into the flow.
Cancellation is cooperative: a worker of a ``Gather`` whose sibling failed, or whose
caller was interrupted (Ctrl-C), gets :class:`~s3kit.flow.Cancelled` thrown in at its next
action, after its request in flight has finished (bounded by the read timeout).
"""

from __future__ import annotations

import threading
import time

from .errors import InvalidArgument
from .flow import Call, Cancelled, Gather, ReadInto, Send, Sleep

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from .flow import Flow
    from .transport import Transport

    T = TypeVar("T")

__all__ = ["run", "CancelScope"]


class CancelScope:
    """A cancellation flag that also reports its parent's (nested ``Gather``)."""

    __slots__ = ("_event", "_parent")

    def __init__(self, parent: CancelScope | None = None) -> None:
        self._event = threading.Event()
        self._parent = parent

    def cancel(self) -> None:
        self._event.set()

    def cancelled(self) -> bool:
        return self._event.is_set() or (self._parent is not None and self._parent.cancelled())

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early (with Cancelled) when cancelled."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self._event.wait(min(left, 0.05)) or self.cancelled():
                raise Cancelled()


def run(flow: Flow[T], transport: Transport, scope: CancelScope | None = None) -> T:
    """Drive ``flow`` to completion and return its result (or raise its error)."""
    send = flow.send
    throw = flow.throw
    value: Any = None
    exc: BaseException | None = None
    while True:
        try:
            action = send(value) if exc is None else throw(exc)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = exc = None
        try:
            if scope is not None and scope.cancelled():
                raise Cancelled()
            kind = type(action)
            if kind is Send:
                value = transport.send(action.request)
            elif kind is ReadInto:
                value = action.body.readinto(action.buffer)
            elif kind is Call:
                value = action.fn(*action.args)
            elif kind is Sleep:
                if scope is None:
                    time.sleep(action.seconds)
                else:
                    scope.sleep(action.seconds)
            elif kind is Gather:
                value = _gather(action.flows, transport, scope)
            else:
                raise InvalidArgument(f"a flow yielded {action!r}, which is not an action")
        except BaseException as e:  # noqa: BLE001 - thrown into the flow, which decides
            exc = e


def _gather(flows: Any, transport: Transport, parent: CancelScope | None) -> list[Any]:
    flows = list(flows)
    if len(flows) == 1:
        return [run(flows[0], transport, parent)]
    scope = CancelScope(parent)
    results: list[Any] = [None] * len(flows)
    errors: list[tuple[int, BaseException]] = []

    def work(i: int, flow: Flow[Any]) -> None:
        try:
            results[i] = run(flow, transport, scope)
        except BaseException as e:  # noqa: BLE001 - reported to the gathering thread
            errors.append((i, e))
            scope.cancel()

    threads = [threading.Thread(target=work, args=(i, f), name=f"s3kit-{i}", daemon=True)
               for i, f in enumerate(flows)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BaseException:  # Ctrl-C in this thread: stop the workers, let them clean up, re-raise
        scope.cancel()
        for t in threads:
            t.join()
        raise
    if errors:
        # the first real failure, not the Cancelled it caused in the others
        real = [e for _, e in errors if not isinstance(e, Cancelled)]
        raise (real or [errors[0][1]])[0]
    return results
