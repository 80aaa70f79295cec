"""The sans-I/O vocabulary shared by the sync and async clients.

Every S3 operation is written once, as a *flow*: a generator that yields **actions** and
receives their results, and returns the operation's result::

    def head_object(engine, bucket, key):          # a flow
        res = yield from engine.send(S3Request("HEAD", bucket, key))
        return object_info(key, res.headers)

A flow never touches a socket, a clock it sleeps on, a thread or an event loop: drivers do
that. ``s3kit.runner.run`` executes actions with blocking calls (and threads for
``Gather``); ``s3kit.aio.runner.run`` awaits them on asyncio (and tasks for ``Gather``).
Retries, region redirects, credential refresh, clock-skew correction, multipart plans,
verification and pagination are therefore decided in one place for both clients, and can
be unit-tested by feeding a flow scripted results (see ``tests/unit/test_flows.py``).

Errors from an action are thrown into the flow at its ``yield``, so a flow's
``try/except/finally`` sees them (and a cleanup step such as aborting a multipart upload
can itself yield actions). Cancellation (an asyncio task cancelled, Ctrl-C, a sibling
failing inside ``Gather``) arrives the same way.

Actions are tiny slotted classes; the runners dispatch on their exact type.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping, Sequence
    from typing import Any, TypeVar

    from .transport import Timeout

    T = TypeVar("T")
    #: A flow returning ``T``: yields actions, receives their results.
    Flow = Generator[Any, Any, T]

__all__ = ["WireRequest", "Send", "Sleep", "Call", "ReadInto", "Gather", "Cancelled", "start"]


class WireRequest:
    """One HTTP request ready for the wire: target, signed headers, body.

    ``body`` is None, bytes-like (its ``len()`` is its byte count) or a readable binary
    stream of ``content-length`` bytes. ``stream``: return the answer with its body unread
    (a streaming body) instead of whole. ``max_body`` bounds a whole body held in memory.
    ``deadline`` (``time.monotonic()``) bounds connecting, waiting for a pooled connection
    and reading up to the head. ``timeout`` overrides the transport's (credential
    endpoints use short ones).
    """

    __slots__ = ("method", "scheme", "host", "port", "target", "headers", "body", "stream", "max_body",
                 "deadline", "timeout")

    def __init__(self, method: str, scheme: str, host: str, port: int, target: str,
                 headers: Mapping[str, str], body: Any = None, *, stream: bool = False,
                 max_body: int | None = None, deadline: float | None = None,
                 timeout: Timeout | None = None) -> None:
        self.method = method
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
        self.headers = headers
        self.body = body
        self.stream = stream
        self.max_body = max_body
        self.deadline = deadline
        self.timeout = timeout

    def __repr__(self) -> str:  # never the headers: they hold signatures and tokens
        return f"WireRequest({self.method} {self.scheme}://{self.host}:{self.port}{self.target[:80]})"


class Send:
    """Send a request; the result is an ``HTTPResult`` (status, headers, body) or, with
    ``request.stream``, a streaming body (status, headers; read with :class:`ReadInto`).
    Transport failures are thrown into the flow as :class:`~s3kit.errors.TransportError`."""

    __slots__ = ("request",)

    def __init__(self, request: WireRequest) -> None:
        self.request = request


class Sleep:
    """Wait ``seconds`` (retry backoff)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Call:
    """Run blocking work and return its result: file I/O, hashing a large buffer, a
    subprocess. The sync driver calls it inline; the async driver runs it in a thread so
    the event loop never blocks. Cheap work is done in the flow directly."""

    __slots__ = ("fn", "args")

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn = fn
        self.args = args


class ReadInto:
    """Read the next bytes of a streaming body into ``buffer``; the result is the count
    (0 at the end of the body)."""

    __slots__ = ("body", "buffer")

    def __init__(self, body: Any, buffer: Any) -> None:
        self.body = body
        self.buffer = buffer


class Gather:
    """Run flows concurrently (threads in the sync driver, tasks in the async one) and
    return their results in order. The first failure cancels the others (each sees
    :class:`Cancelled` thrown in at its next action, so its cleanup runs) and is raised
    once they have all stopped."""

    __slots__ = ("flows",)

    def __init__(self, flows: Sequence[Flow[Any]]) -> None:
        self.flows = flows


class Cancelled(BaseException):
    """Thrown into a flow whose sibling in a :class:`Gather` failed (or whose caller was
    interrupted): clean up and re-raise. A BaseException, like ``asyncio.CancelledError``,
    so ``except Exception`` does not swallow it."""


def start(flow: Flow[T]) -> tuple[bool, Any]:
    """Run ``flow`` as far as it goes without any action: ``(True, result)`` if it finished
    (credentials already at hand, say), else ``(False, resumable)`` where ``resumable`` is
    a flow that yields the pending action first and then continues ``flow``. Lets a caller
    skip loading a driver for flows that turn out to need no I/O."""
    try:
        action = next(flow)
    except StopIteration as stop:
        return True, stop.value
    return False, _resume(flow, action)


def _resume(flow: Flow[T], action: Any) -> Flow[T]:
    while True:
        try:
            value = yield action
        except BaseException as e:  # noqa: BLE001 - handed to the flow, which decides
            try:
                action = flow.throw(e)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            action = flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
