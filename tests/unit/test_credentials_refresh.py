"""RefreshingCredentials: advisory/mandatory windows, single flight across threads and
asyncio tasks, force_refresh, fork safety."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

import pytest

from s3kit.credentials import (
    CallbackProvider,
    ContainerProvider,
    CredentialChain,
    Credentials,
    RefreshingCredentials,
    StaticProvider,
)
from s3kit.errors import CredentialsError
from s3kit.flow import Call, Cancelled
from s3kit.transport import Transport
from tests import credservers
from tests.credservers import FakeContainer, adrive, drive

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")


class Counting:
    """A provider whose credentials live ``lifetime`` seconds; ``work`` seconds of blocking
    work per load (through Call); fails while ``fail`` is set."""

    name = "counting"
    where = "a test provider"

    def __init__(self, lifetime: float = 3600.0, work: float = 0.0) -> None:
        self.lifetime = lifetime
        self.work = work
        self.calls = 0
        self.fail = False
        self.none = False
        self.lock = threading.Lock()

    def load(self) -> Any:
        with self.lock:
            self.calls += 1
            n = self.calls
        if self.work:
            yield Call(time.sleep, self.work)
        if self.fail:
            raise CredentialsError(f"{self.name}: the source is down")
        if self.none:
            return None
        return Credentials(f"AK{n}", f"secret-{n}", f"token-{n}", time.time() + self.lifetime)


def manager(p: Any, **kw: Any) -> RefreshingCredentials:
    kw.setdefault("advisory_window", 2.0)
    kw.setdefault("mandatory_window", 1.0)
    kw.setdefault("retry_interval", 0.0)
    return RefreshingCredentials(p, **kw)


def test_static_credentials_never_refresh() -> None:
    m = RefreshingCredentials(StaticProvider(Credentials("A", "S")))
    for _ in range(3):
        assert drive(m.current()).access_key == "A"
    assert m.refreshes == 1 and m.source == "static"


def test_fresh_credentials_are_cached() -> None:
    p = Counting(lifetime=60)
    m = manager(p)
    assert drive(m.current()).access_key == "AK1"
    assert drive(m.current()).access_key == "AK1"
    assert p.calls == 1 and m.source == "counting"


def test_advisory_window_refreshes() -> None:
    p = Counting(lifetime=1.5)  # inside the 2 s advisory window, outside the 1 s mandatory one
    m = manager(p)
    assert drive(m.current()).access_key == "AK1"  # first load (the hold keeps it for retry_interval=0)
    p.lifetime = 60
    assert drive(m.current()).access_key == "AK2"
    assert drive(m.current()).access_key == "AK2"
    assert p.calls == 2


def test_advisory_failure_keeps_old_credentials_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    p = Counting(lifetime=1.5)
    m = manager(p, retry_interval=30)
    first = drive(m.current())
    m._hold_until = 0  # the first load's hold (short-lived credentials) is not what this test is about
    p.fail = True
    with caplog.at_level(logging.WARNING, logger="s3kit"):
        assert drive(m.current()) is first
    assert p.calls == 2
    assert any("keeping the current ones" in r.getMessage() and "counting" in r.getMessage() for r in caplog.records)
    assert drive(m.current()) is first and p.calls == 2  # not retried before retry_interval


def test_mandatory_failure_raises_naming_the_provider() -> None:
    p = Counting(lifetime=0.5)  # inside the mandatory window
    m = manager(p)
    drive(m.current())
    p.fail = True
    with pytest.raises(CredentialsError, match="counting: the source is down"):
        drive(m.current())


def test_provider_returning_none_on_refresh() -> None:
    p = Counting(lifetime=0.5)
    m = manager(p)
    drive(m.current())
    p.none = True
    with pytest.raises(CredentialsError, match="counting: no credentials when refreshing"):
        drive(m.current())


def test_expired_credentials_from_a_provider_are_an_error() -> None:
    p = Counting(lifetime=-1)
    with pytest.raises(CredentialsError, match="counting: returned credentials that have already expired"):
        drive(manager(p).current())


def test_short_lived_credentials_are_not_reloaded_on_every_call() -> None:
    p = Counting(lifetime=0.8)  # always inside the mandatory window
    m = manager(p, retry_interval=10)
    for _ in range(5):
        drive(m.current())
    assert p.calls == 1


def test_refresh_asks_only_the_winning_provider() -> None:
    class Nothing:
        name = "nothing"
        calls = 0

        def load(self) -> Any:
            Nothing.calls += 1
            yield from ()
            return None

    p = Counting(lifetime=0.5)
    m = manager(CredentialChain([Nothing(), p]))
    drive(m.current())
    drive(m.current())
    assert Nothing.calls == 1 and p.calls == 2


def test_windows_are_validated() -> None:
    with pytest.raises(CredentialsError):
        RefreshingCredentials(Counting(), advisory_window=1, mandatory_window=2)


def test_32_threads_at_expiring_credentials_cause_one_refresh() -> None:
    p = Counting(lifetime=0.5, work=0.3)  # credentials inside the mandatory window; a slow source
    m = manager(p)
    drive(m.current())
    p.lifetime = 60
    start = threading.Barrier(32)
    results: list[str] = []
    errors: list[BaseException] = []
    t = Transport()

    def work() -> None:
        start.wait()
        try:
            results.append(drive(m.current(), t).access_key)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(32)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert p.calls == 2  # the first load + exactly one refresh
    assert results == ["AK2"] * 32


def test_32_threads_in_the_advisory_window_are_not_blocked() -> None:
    p = Counting(lifetime=1.8, work=0.5)
    m = manager(p)
    drive(m.current())
    m._hold_until = 0
    p.lifetime = 60
    start = threading.Barrier(32)
    took: list[tuple[str, float]] = []

    def work() -> None:
        start.wait()
        t0 = time.monotonic()
        key = drive(m.current()).access_key
        took.append((key, time.monotonic() - t0))

    threads = [threading.Thread(target=work) for _ in range(32)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert p.calls == 2
    refreshed = [k for k, _ in took if k == "AK2"]
    assert len(refreshed) >= 1
    fast = [d for k, d in took if k == "AK1"]
    assert len(fast) >= 30 and max(fast) < 0.25  # the others kept the old ones at once


def test_32_asyncio_tasks_cause_one_refresh_without_blocking_the_loop() -> None:
    p = Counting(lifetime=0.5, work=0.4)
    m = manager(p)
    drive(m.current())
    p.lifetime = 60
    t = Transport()

    async def main() -> tuple[list[str], float]:
        gaps: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        keys = await asyncio.gather(*[adrive(m.current(), t) for _ in range(32)])
        stop.set()
        await tick
        return [c.access_key for c in keys], max(gaps)

    keys, worst_gap = asyncio.run(main())
    assert keys == ["AK2"] * 32
    assert p.calls == 2
    assert worst_gap < 0.15, worst_gap  # the 0.4 s refresh never stalled the event loop


def test_32_asyncio_tasks_with_a_network_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeContainer(lifetime=3) as s:  # whole seconds on the wire: 2-3 s left, inside the mandatory window
        p = ContainerProvider({"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/c"})
        m = manager(p, advisory_window=5, mandatory_window=4)
        t = Transport()
        drive(m.current(), t)
        s.keys.lifetime = 3600

        async def main() -> list[Credentials]:
            return await asyncio.gather(*[adrive(m.current(), t) for _ in range(32)])

        keys = {c.access_key for c in asyncio.run(main())}
        assert keys == {"AKIDCTR2"} and len(s.requests) == 2


def test_waiters_share_a_failed_mandatory_refresh() -> None:
    p = Counting(lifetime=0.5, work=0.3)
    m = manager(p)
    drive(m.current())
    p.fail = True
    start = threading.Barrier(16)
    errors: list[str] = []

    def work() -> None:
        start.wait()
        try:
            drive(m.current())
        except CredentialsError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(errors) == 16 and all("counting: the source is down" in e for e in errors)
    assert p.calls == 2  # one failed refresh, shared


def test_force_refresh_single_flight_with_stale() -> None:
    p = Counting(lifetime=3600, work=0.2)
    m = manager(p)
    stale = drive(m.current())
    start = threading.Barrier(32)
    keys: list[str] = []

    def work() -> None:
        start.wait()
        keys.append(drive(m.force_refresh(stale)).access_key)

    threads = [threading.Thread(target=work) for _ in range(32)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert keys == ["AK2"] * 32 and p.calls == 2
    assert drive(m.force_refresh(stale)).access_key == "AK2" and p.calls == 2  # a late caller: already replaced
    assert drive(m.force_refresh()).access_key == "AK3"  # without stale: always a new load


def test_force_refresh_failure_raises() -> None:
    p = Counting()
    m = manager(p)
    stale = drive(m.current())
    p.fail = True
    with pytest.raises(CredentialsError, match="counting"):
        drive(m.force_refresh(stale))


def test_cancelled_refresh_lets_the_next_caller_try() -> None:
    p = Counting(work=0.1)
    m = manager(p)
    flow = m.current()
    assert type(next(flow)) is Call
    with pytest.raises(Cancelled):
        flow.throw(Cancelled())
    assert not m._refreshing
    assert drive(m.current()).access_key == "AK2"


def test_fork_renews_the_lock() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    m = manager(Counting())
    drive(m.current())
    m._lock.acquire()  # as if another thread held it at fork()
    m._refreshing = True
    try:
        pid = os.fork()
        if pid == 0:  # child
            ok = not m._lock.locked() and not m._refreshing and drive(m.force_refresh()).access_key == "AK2"
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        m._lock.release()
        m._refreshing = False
    assert os.WEXITSTATUS(status) == 0


def test_callback_provider() -> None:
    calls = []

    def fn() -> Credentials:
        calls.append(1)
        return Credentials("CB", "cb-secret", expires_at=time.time() + 0.5)

    m = manager(CallbackProvider(fn))
    assert drive(m.current()).access_key == "CB"
    drive(m.current())
    assert len(calls) == 2 and m.source == "callback"


def test_callback_provider_errors_hide_the_callables_message() -> None:
    def boom() -> Credentials:
        raise RuntimeError("vault said: password=hunter2-secret")

    with pytest.raises(CredentialsError) as ei:
        drive(CallbackProvider(boom).load())
    assert "RuntimeError" in str(ei.value) and "hunter2" not in str(ei.value)
    assert isinstance(ei.value.__cause__, RuntimeError)
    with pytest.raises(CredentialsError, match="must return a Credentials object"):
        drive(CallbackProvider(lambda: ("a", "b")).load())  # type: ignore[arg-type, return-value]


def test_repr_hides_secrets() -> None:
    m = manager(Counting())
    drive(m.current())
    text = repr(m) + str(m.credentials)
    assert "AK1" in text and "secret-1" not in text and "token-1" not in text
