"""The provider protocol, the chain that tries providers in order, and the refreshing cache.

A provider's :meth:`~CredentialProvider.load` is a *flow* (see ``s3kit.flow``): it yields
``Send``/``Call``/``Sleep`` actions and returns :class:`Credentials`, or None when its
source is not configured ("try the next one"). A source that is configured but fails
raises :class:`~s3kit.errors.CredentialsError` naming the provider (never a secret).

:class:`RefreshingCredentials` is what a client holds. It is single-flight across threads
*and* asyncio tasks: its lock is held only for instant state changes, never across a
``yield``; the caller that flips the ``refreshing`` flag refreshes, the others either keep
using the still-valid credentials (advisory window) or poll with ``Sleep`` until the
refresh ends (mandatory window), which blocks neither a thread pool nor an event loop.
"""

from __future__ import annotations

import os
import time
from _thread import allocate_lock

from .. import _fork
from .._log import logger
from ..errors import CredentialsError
from ..flow import Call, Sleep
from . import Credentials

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Protocol

    from ..flow import Flow

    class CredentialProvider(Protocol):
        """One source of credentials.

        ``name`` identifies the provider in errors and logs (``"env"``, ``"imds"``...).
        Providers may also offer ``where``: a short, secret-free description of where they
        looked (used in the chain's "no credentials found" error).
        """

        name: str

        def load(self) -> Flow[Credentials | None]:
            """A flow returning credentials, or None when this source is not configured."""
            ...
else:
    class CredentialProvider:
        """Base class (optional) for custom providers: set ``name``, implement ``load()``
        as a generator function returning ``Credentials`` or None."""

        name = "custom"
        where = "custom provider"

        def load(self):  # pragma: no cover - documentation only
            raise NotImplementedError

__all__ = ["CredentialProvider", "CredentialChain", "RefreshingCredentials", "StaticProvider",
           "CallbackProvider", "EnvProvider", "where"]

ADVISORY_WINDOW = 15 * 60.0  # refresh this long before expiry, without blocking anyone
MANDATORY_WINDOW = 10 * 60.0  # from here on, callers wait for fresh credentials


def where(provider: CredentialProvider) -> str:
    """The provider's description of where it looked (its name if it has none)."""
    return str(getattr(provider, "where", None) or provider.name)


class StaticProvider:
    """Fixed credentials (explicit arguments). ``name`` defaults to ``"static"``."""

    def __init__(self, credentials: Credentials, *, name: str = "static", where: str = "explicit arguments") -> None:
        if not isinstance(credentials, Credentials):
            raise CredentialsError("StaticProvider needs a Credentials object")
        self.credentials = credentials
        self.name = name
        self.where = where

    def load(self) -> Flow[Credentials | None]:
        yield from ()
        return self.credentials

    def __repr__(self) -> str:
        return f"StaticProvider({self.credentials!r})"


class CallbackProvider:
    """Wraps a ``credentials_provider`` callable (``() -> Credentials``): a vault, a custom
    STS call... It runs through ``Call``, so it may block (the async driver runs it in a
    thread). Returning None means "nothing here"; raising is a failure of this provider."""

    name = "callback"

    def __init__(self, fn: Callable[[], Credentials | None], *, name: str = "callback") -> None:
        if not callable(fn):
            raise CredentialsError("credentials_provider must be callable")
        self.fn = fn
        self.name = name
        self.where = f"{name} ({getattr(fn, '__qualname__', type(fn).__name__)})"

    def load(self) -> Flow[Credentials | None]:
        try:
            creds = yield Call(self.fn)
        except CredentialsError:
            raise
        except Exception as e:
            # the callable's own message may quote anything: only its type here; the
            # original stays attached as __cause__ for the caller's traceback
            raise CredentialsError(f"{self.name}: credentials_provider raised {type(e).__name__}") from e
        if creds is not None and not isinstance(creds, Credentials):
            raise CredentialsError(f"{self.name}: credentials_provider must return a Credentials object, "
                                   f"not {type(creds).__name__}")
        return creds


def _env_time(value: str, what: str) -> float:
    from .wire import parse_time  # only when an expiry is set

    try:
        return parse_time(value)
    except ValueError:
        raise CredentialsError(f"env: {what} is not an ISO 8601 time") from None


class EnvProvider:
    """``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY`` (or ``AWS_SECRET_KEY``), with
    ``AWS_SESSION_TOKEN`` (or ``AWS_SECURITY_TOKEN``), ``AWS_CREDENTIAL_EXPIRATION`` and
    ``AWS_ACCOUNT_ID``. Read again on every load, so a refresh picks up new values."""

    name = "env"
    where = "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"

    def __init__(self, env: Mapping[str, str] = os.environ) -> None:
        self.env = env

    def load(self) -> Flow[Credentials | None]:
        yield from ()
        env = self.env
        ak = env.get("AWS_ACCESS_KEY_ID")
        if not ak:
            return None
        sk = env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY")
        if not sk:
            raise CredentialsError("env: AWS_ACCESS_KEY_ID is set but neither AWS_SECRET_ACCESS_KEY "
                                   "nor AWS_SECRET_KEY is")
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN")
        exp = env.get("AWS_CREDENTIAL_EXPIRATION")
        expires_at = _env_time(exp, "AWS_CREDENTIAL_EXPIRATION") if exp else None
        return Credentials(ak, sk, token, expires_at, env.get("AWS_ACCOUNT_ID"))


class CredentialChain:
    """Providers tried in order; :meth:`load` returns ``(credentials, provider)`` of the
    first that has credentials. A provider that is configured but fails stops the chain
    with its error (as botocore does: a broken configuration is not skipped silently).

    ``settings`` (optional) returns the profile settings the client needs (region,
    endpoint_url...); see :meth:`settings`."""

    def __init__(self, providers: Iterable[CredentialProvider], *,
                 settings: Callable[[], dict[str, str]] | None = None, profile: str | None = None) -> None:
        self.providers: list[CredentialProvider] = list(providers)
        self._settings = settings
        self.profile = profile

    def settings(self) -> dict[str, str]:
        """The profile's settings from the shared config/credentials files (region,
        endpoint_url...), or {}. Reads files on first call: blocking I/O."""
        return dict(self._settings()) if self._settings is not None else {}

    def load(self) -> Flow[tuple[Credentials, CredentialProvider]]:
        looked = []
        log = logger()
        for p in self.providers:
            log.debug("credentials: trying %s", p.name)
            creds = yield from p.load()
            if creds is not None:
                if not isinstance(creds, Credentials):
                    raise CredentialsError(f"{p.name}: load() returned {type(creds).__name__}, not Credentials")
                log.debug("credentials: found by %s (access key %s)", p.name, creds.access_key)
                return creds, p
            looked.append(where(p))
        raise CredentialsError("no credentials found; looked in: " + "; ".join(looked or ["(no providers)"]))

    def __repr__(self) -> str:
        return f"CredentialChain([{', '.join(p.name for p in self.providers)}])"


class RefreshingCredentials:
    """The credentials a client holds: loads them on first use and refreshes them before
    they expire, from the provider that produced them.

    - More than ``advisory_window`` seconds before expiry: the cached ones, no I/O.
    - Inside the advisory window (default 15 min): one caller refreshes; the others keep
      using the still-valid credentials. A failed advisory refresh keeps the old ones (a
      WARNING is logged) and is retried after ``retry_interval`` seconds.
    - Inside the mandatory window (default 10 min), or with none yet: callers need fresh
      credentials. One refreshes; the others wait (polling with ``Sleep``, which blocks no
      event loop) and share its result, or its :class:`CredentialsError`.

    A provider handing out credentials that are already inside the window is not asked
    again for ``retry_interval`` seconds (the credentials are used until they expire).
    :meth:`force_refresh` replaces credentials a server rejected (``ExpiredToken``).
    """

    def __init__(self, source: CredentialChain | CredentialProvider, *,
                 advisory_window: float = ADVISORY_WINDOW, mandatory_window: float = MANDATORY_WINDOW,
                 retry_interval: float = 30.0, poll: float = 0.005,
                 clock: Callable[[], float] = time.time) -> None:
        if mandatory_window > advisory_window:
            raise CredentialsError("mandatory_window must not be longer than advisory_window")
        self.chain = source if isinstance(source, CredentialChain) else CredentialChain([source])
        self.advisory_window = float(advisory_window)
        self.mandatory_window = float(mandatory_window)
        self.retry_interval = float(retry_interval)
        self.poll = poll
        self._clock = clock
        self._creds: Credentials | None = None
        self._provider: CredentialProvider | None = None
        self._lock = allocate_lock()
        self._refreshing = False
        self._attempt = 0  # number of the latest refresh started
        self._failure: tuple[int, CredentialsError] | None = None  # (attempt, error) of the last failed one
        self._hold_until = 0.0  # no refresh before this (see retry_interval)
        self._hold_mandatory = False  # the hold also covers the mandatory window
        self.refreshes = 0  # successful loads, for diagnostics and tests
        _fork.register(self)

    def _after_fork(self) -> None:
        # a thread of the parent may have held the lock or been mid-refresh at fork()
        self._lock = allocate_lock()
        self._refreshing = False

    @property
    def source(self) -> str | None:
        """Name of the provider the current credentials came from (None before the first load)."""
        p = self._provider
        return None if p is None else p.name

    @property
    def credentials(self) -> Credentials | None:
        """The cached credentials (no refresh, no I/O); None before the first load."""
        return self._creds

    def __repr__(self) -> str:
        return f"RefreshingCredentials(source={self.source!r}, credentials={self._creds!r})"

    # 0 fresh, 1 advisory, 2 mandatory, 3 expired or none
    def _need(self, creds: Credentials | None, now: float) -> int:
        if creds is None:
            return 3
        exp = creds.expires_at
        if exp is None or now < exp - self.advisory_window:
            return 0
        if now >= exp:
            return 3
        return 2 if now >= exp - self.mandatory_window else 1

    def current(self) -> Flow[Credentials]:
        """A flow returning usable credentials, refreshing them when needed."""
        creds = self._creds  # fast path, no lock: an attribute read is atomic
        if creds is not None and (creds.expires_at is None or self._clock() < creds.expires_at - self.advisory_window):
            return creds
        waited_for = 0  # the refresh attempt this caller is waiting on
        while True:
            now = self._clock()
            with self._lock:
                creds = self._creds
                need = self._need(creds, now)
                if need == 0:
                    return creds  # type: ignore[return-value]
                if need < 3 and now < self._hold_until and (need == 1 or self._hold_mandatory):
                    return creds  # type: ignore[return-value]
                if waited_for and not self._refreshing:
                    failure = self._failure
                    if failure is not None and failure[0] == waited_for and need >= 2:
                        raise _copy(failure[1])
                if not self._refreshing:
                    self._refreshing = True
                    self._attempt += 1
                    attempt = self._attempt
                else:
                    if need == 1:
                        return creds  # type: ignore[return-value]
                    attempt = 0
                    waited_for = self._attempt
            if attempt:
                result = yield from self._refresh(attempt, need)
                return result
            yield Sleep(self.poll)

    def force_refresh(self, stale: Credentials | None = None) -> Flow[Credentials]:
        """A flow returning new credentials (after the server rejected ``stale`` ones).

        If ``stale`` is given and the cache already holds other credentials (another
        caller refreshed meanwhile), those are returned without a new load. Concurrent
        callers share one refresh."""
        waited_for = 0
        while True:
            with self._lock:
                creds = self._creds
                if stale is not None and creds is not None and creds is not stale:
                    return creds
                if waited_for and not self._refreshing:
                    failure = self._failure
                    if failure is not None and failure[0] == waited_for:
                        raise _copy(failure[1])
                    if creds is not None:
                        return creds
                if not self._refreshing:
                    self._refreshing = True
                    self._attempt += 1
                    attempt = self._attempt
                else:
                    attempt = 0
                    waited_for = self._attempt
            if attempt:
                result = yield from self._refresh(attempt, 3)
                return result
            yield Sleep(self.poll)

    def _refresh(self, attempt: int, need: int) -> Flow[Credentials]:
        """Run by the one caller that set ``_refreshing``; always clears it."""
        provider = self._provider
        name = "credential chain" if provider is None else provider.name
        old = self._creds
        log = logger()
        try:
            if provider is None:
                creds, provider = yield from self.chain.load()
            else:
                log.debug("credentials: refreshing from %s", name)
                got = yield from provider.load()
                if got is None:
                    raise CredentialsError(f"{name}: no credentials when refreshing ({where(provider)})")
                if not isinstance(got, Credentials):
                    raise CredentialsError(f"{name}: load() returned {type(got).__name__}, not Credentials")
                creds = got
            if self._need(creds, self._clock()) == 3:
                raise CredentialsError(f"{provider.name}: returned credentials that have already expired")
        except Exception as e:
            err = e if isinstance(e, CredentialsError) else CredentialsError(
                f"{name}: refreshing credentials failed: {type(e).__name__}: {getattr(e, 'message', '') or e}")
            now = self._clock()
            with self._lock:
                self._refreshing = False
                self._failure = (attempt, err)
                if need == 1 and old is not None:
                    self._hold_until = now + self.retry_interval
                    self._hold_mandatory = False
            if need == 1 and old is not None and self._need(old, now) < 3:
                left = (old.expires_at or now) - now
                log.warning("credentials: refreshing from %s failed; keeping the current ones (valid for "
                            "%.0f s more), retrying in %.0f s: %s", name, left, self.retry_interval, err)
                return old
            if err is e:
                raise
            raise err from e
        except BaseException:  # Cancelled, GeneratorExit, KeyboardInterrupt: let the next caller try
            with self._lock:
                self._refreshing = False
            raise
        now = self._clock()
        fresh = self._need(creds, now)
        with self._lock:
            self._creds = creds
            self._provider = provider
            self._refreshing = False
            self._failure = None
            self.refreshes += 1
            if fresh:  # short-lived: do not ask the provider again on every call
                self._hold_until = now + self.retry_interval
                self._hold_mandatory = True
            else:
                self._hold_until = 0.0
        if fresh:
            log.debug("credentials from %s expire in %.0f s (inside the refresh window)", provider.name,
                      (creds.expires_at or now) - now)
        return creds


def _copy(err: CredentialsError) -> CredentialsError:
    """A fresh exception with the same message (each waiter gets its own traceback)."""
    return CredentialsError(err.message, code=err.code)
