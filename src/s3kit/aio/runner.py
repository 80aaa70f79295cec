"""The async driver: runs a flow (see ``flow.py``) on asyncio, ``Gather`` on tasks.

The same dispatch as the sync driver (``runner.py``), with ``await``. Blocking work
(``Call``: file I/O, hashing large buffers, subprocesses) runs in the loop's default
executor, so the event loop never blocks on it. Cancellation of the task running a flow
arrives in the flow as ``asyncio.CancelledError`` at its current action, so its cleanup
(aborting a multipart upload, removing a temporary file) runs, awaiting as needed, before
the cancellation propagates.
"""

from __future__ import annotations

import asyncio

from ..errors import InvalidArgument
from ..flow import Call, Cancelled, Gather, ReadInto, Send, Sleep

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from ..flow import Flow
    from .transport import AsyncTransport

    T = TypeVar("T")

__all__ = ["run"]


async def run(flow: Flow[T], transport: AsyncTransport) -> T:
    """Drive ``flow`` to completion on the running loop and return its result."""
    send = flow.send
    throw = flow.throw
    value: Any = None
    exc: BaseException | None = None
    loop = asyncio.get_running_loop()
    while True:
        try:
            action = send(value) if exc is None else throw(exc)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = exc = None
        try:
            kind = type(action)
            if kind is Send:
                value = await transport.send(action.request)
            elif kind is ReadInto:
                value = await action.body.readinto(action.buffer)
            elif kind is Call:
                value = await loop.run_in_executor(None, action.fn, *action.args)
            elif kind is Sleep:
                await asyncio.sleep(action.seconds)
            elif kind is Gather:
                value = await _gather(action.flows, transport)
            else:
                raise InvalidArgument(f"a flow yielded {action!r}, which is not an action")
        except BaseException as e:  # noqa: BLE001 - thrown into the flow, which decides
            exc = e


async def _gather(flows: Any, transport: AsyncTransport) -> list[Any]:
    flows = list(flows)
    if len(flows) == 1:
        return [await run(flows[0], transport)]
    tasks = [asyncio.ensure_future(run(f, transport)) for f in flows]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except BaseException:  # this task was cancelled: cancel the workers, let them clean up
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)
        raise
    failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
    if failed:
        for t in tasks:
            t.cancel()  # the others see CancelledError at their next await, and clean up
        await asyncio.wait(tasks)
        errors = [t.exception() for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
        real = [e for e in errors if not isinstance(e, (Cancelled, asyncio.CancelledError))]
        raise (real or errors)[0]  # type: ignore[misc]
    return [t.result() for t in tasks]
