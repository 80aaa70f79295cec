"""Retry policy: which failures to retry, how long to wait, and a client-wide budget. Pure.

Modelled on the AWS SDKs' "standard" mode: capped exponential backoff with full jitter and
a token bucket so that a dead or overloaded endpoint does not multiply the load.
"""

from __future__ import annotations

import time
from _thread import allocate_lock

from . import _fork
from ._log import logger
from .errors import InvalidArgument, OperationTimeout, ReadTimeout, S3Error

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Retry", "Attempts"]


class Retry:
    """How s3kit retries. ``Retry(max_attempts=1)`` disables retries.

    - ``max_attempts``: total tries per request, the first included.
    - ``base`` / ``cap``: the n-th retry waits ``uniform(0, min(cap, base * 2**(n-1)))`` s.
    - ``budget``: tokens shared by all requests of a client; a retry costs ``retry_cost``
      (``timeout_cost`` after a timeout) and each success refunds one. When the bucket is
      empty, failures are raised at once instead of retried.
    """

    def __init__(
        self,
        max_attempts: int = 5,
        *,
        base: float = 0.05,
        cap: float = 20.0,
        budget: int = 500,
        retry_cost: int = 5,
        timeout_cost: int = 10,
        rng: Callable[[], float] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise InvalidArgument(f"max_attempts must be >= 1, got {max_attempts!r}")
        self.max_attempts = max_attempts
        self.base = base
        self.cap = cap
        self.budget = budget
        self.retry_cost = retry_cost
        self.timeout_cost = timeout_cost
        self._tokens = budget
        self._rng_given = rng
        self._rng: Callable[[], float] | None = rng
        self._lock = allocate_lock()
        self.retries = 0  # total retries taken, for reporting
        _fork.register(self)

    def _after_fork(self) -> None:
        self._lock = allocate_lock()  # another thread may have held it at fork()

    def __reduce__(self) -> tuple[object, ...]:
        # the configuration, not the token count or the lock
        return _rebuild, (self.max_attempts, self.base, self.cap, self.budget, self.retry_cost,
                          self.timeout_cost, self._rng_given)

    def __repr__(self) -> str:
        return f"Retry(max_attempts={self.max_attempts}, base={self.base}, cap={self.cap}, budget={self.budget})"

    @property
    def tokens(self) -> int:
        return self._tokens

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1 = the first retry)."""
        if self._rng is None:
            import random  # only when something fails

            self._rng = random.random
        return float(self._rng() * min(self.cap, self.base * (2 ** (attempt - 1))))

    def should_retry(self, error: S3Error, attempt: int) -> bool:
        """Whether a request that failed on try ``attempt`` (1-based) with ``error`` goes again.

        Takes budget tokens when it says yes.
        """
        if attempt >= self.max_attempts or not error.retryable:
            return False
        cost = self.timeout_cost if isinstance(error, ReadTimeout) else self.retry_cost
        with self._lock:
            if self._tokens < cost:
                return False
            self._tokens -= cost
            self.retries += 1
        return True

    def on_success(self) -> None:
        if self._tokens < self.budget:  # unlocked read: the common case costs nothing
            with self._lock:
                self._tokens = min(self.budget, self._tokens + 1)


def _rebuild(max_attempts: int, base: float, cap: float, budget: int, retry_cost: int, timeout_cost: int,
             rng: Callable[[], float] | None) -> Retry:
    return Retry(max_attempts, base=base, cap=cap, budget=budget, retry_cost=retry_cost,
                 timeout_cost=timeout_cost, rng=rng)


class Attempts:
    """The tries of one request (or one streamed read): the single place that counts,
    decides, logs and paces retries. A call site is two lines, as in urllib3::

        delay = attempts.retry(err)      # raises err when it must not be retried
        yield Sleep(delay)

    ``total`` (``Timeout.total``) bounds all tries and waits together: a retry that would
    start after it raises :class:`OperationTimeout`.
    """

    __slots__ = ("policy", "number", "deadline", "total", "what")

    def __init__(self, policy: Retry, total: float | None = None, what: str = "request") -> None:
        self.policy = policy
        self.number = 1  # the try in progress, 1-based
        self.total = total
        self.deadline = time.monotonic() + total if total is not None else None
        self.what = what

    def retry(self, err: S3Error) -> float:
        """Seconds to wait before the next try; raises ``err`` if it is not retried."""
        if not self.policy.should_retry(err, self.number):
            raise err
        delay = self.policy.delay(self.number)
        if self.deadline is not None and time.monotonic() + delay >= self.deadline:
            raise OperationTimeout(f"Timeout.total ({self.total:g} s) runs out before retry {self.number}; "
                                   f"last error: {err}", bucket=err.bucket, key=err.key) from err
        log = logger()
        if log.isEnabledFor(10):
            log.debug("retry %d of %s after %s (%s); waiting %.3f s", self.number, self.what, err.code,
                      err.message[:200], delay)
        self.number += 1
        return delay

    def again(self) -> None:
        """Count a try repeated at once, for a cause retrying cannot make worse (a region
        redirect, refreshed credentials, a corrected clock)."""
        self.number += 1
