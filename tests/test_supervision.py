"""The supervisor on its own: deaths are logged, shown and counted, parts come back with a
capped backoff, critical parts that keep dying stop the daemon. Sleeps and clocks are
injected, so nothing here depends on how fast the machine is."""

from __future__ import annotations

import asyncio
import random

import pytest
from structlog.testing import capture_logs

from crisisd import redaction
from crisisd.metrics import Metrics
from crisisd.supervision import Backoff, Supervisor
from tests.pauses import Pauses


async def no_pause(_delay: float) -> None:
    await asyncio.sleep(0)


def metric(metrics: Metrics, name: str, part: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"part": part})


async def test_a_part_that_raises_is_logged_shown_restarted_and_counted() -> None:
    secret = "smtp-password-K8s2Lq9x"
    redaction.register(secret)
    metrics, pauses = Metrics(), Pauses()
    sup = Supervisor(metrics=metrics, sleep=pauses, rng=random.Random(1))
    runs: list[int] = []
    done = asyncio.Event()

    async def part() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError(f"login failed with {secret}")
        done.set()
        await asyncio.Event().wait()  # runs until stopped

    with capture_logs() as logs:
        task = sup.spawn("worker", part)
        await pauses.waiting.wait()
        faults = sup.faults()
        assert set(faults) == {"worker"}
        assert faults["worker"].startswith("RuntimeError: login failed with ***")
        assert metric(metrics, "crisisd_part_down", "worker") == 1
        pauses.release()
        await done.wait()
    assert sup.faults() == {}
    assert metric(metrics, "crisisd_part_down", "worker") == 0
    assert metric(metrics, "crisisd_part_failures_total", "worker") == 1
    died = next(e for e in logs if e["event"] == "supervision.part_died")
    assert died["part"] == "worker"
    assert died["where"].startswith("test_supervision.py:")
    assert secret not in repr(logs)
    assert [e["event"] for e in logs if e["event"].startswith("supervision.")] == [
        "supervision.part_died",
        "supervision.restarting",
        "supervision.recovered",
    ]
    await sup.aclose()
    assert task.cancelled()


async def test_a_cancellation_nobody_asked_for_is_a_death_a_requested_one_is_a_stop() -> None:
    pauses = Pauses()
    sup = Supervisor(sleep=pauses)
    started = asyncio.Event()

    async def leaky() -> None:
        started.set()
        raise asyncio.CancelledError  # what a leaked cancel scope looks like from outside

    task = sup.spawn("leaky", leaky)
    await pauses.waiting.wait()
    assert sup.faults()["leaky"].startswith("CancelledError")
    task.cancel()  # asked: stops during its backoff, and is not a new death
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(pauses.delays) == 1


async def test_backoff_grows_jittered_to_its_cap() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    rng = random.Random(7)
    delays = [backoff.delay(n, rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 2.0 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 8.0


async def test_a_critical_part_out_of_restarts_stops_the_daemon() -> None:
    fatal: list[tuple[str, str]] = []
    sup = Supervisor(
        backoff=Backoff(max_restarts=3),
        sleep=no_pause,
        on_fatal=lambda part, cause: fatal.append((part, cause)),
    )
    deaths = 0

    async def broken() -> None:
        nonlocal deaths
        deaths += 1
        raise OSError("disk full")

    with capture_logs() as logs:
        await sup.spawn("claim", broken, critical=True)
    assert deaths == 4  # the first run and three restarts
    assert fatal == [("claim", "OSError: disk full")]
    assert any(e["event"] == "supervision.fatal" for e in logs)
    assert sup.faults() == {"claim": "OSError: disk full"}


async def test_a_part_that_may_not_restart_is_fatal_when_critical_and_stays_down_when_not() -> None:
    fatal: list[str] = []
    sup = Supervisor(sleep=no_pause, on_fatal=lambda part, _cause: fatal.append(part))

    async def broken() -> None:
        raise ValueError("bug")

    await sup.spawn("once", broken, restart=False)
    assert fatal == []
    assert sup.faults() == {"once": "ValueError: bug"}
    await sup.spawn("vital", broken, restart=False, critical=True)
    assert fatal == ["vital"]


async def test_a_part_that_is_not_critical_is_restarted_without_a_budget() -> None:
    sup = Supervisor(backoff=Backoff(max_restarts=2, cap=4.0), sleep=no_pause)
    deaths = 0
    done = asyncio.Event()

    async def flaky() -> None:
        nonlocal deaths
        deaths += 1
        if deaths < 10:
            raise ConnectionError("reset")
        done.set()

    await sup.spawn("channel", flaky)
    assert done.is_set()
    assert deaths == 10
    assert sup.faults() == {}


async def test_a_part_that_ran_healthy_for_a_while_starts_its_count_afresh() -> None:
    now = [0.0]
    fatal: list[str] = []
    sup = Supervisor(
        backoff=Backoff(max_restarts=1, healthy_after=60.0),
        clock=lambda: now[0],
        sleep=no_pause,
        on_fatal=lambda part, _cause: fatal.append(part),
    )
    runs = 0

    async def sometimes() -> None:
        nonlocal runs
        runs += 1
        if runs <= 3:
            now[0] += 120.0  # each of these ran two minutes before it died
            raise RuntimeError("rare")
        raise RuntimeError("at once")  # right after a restart: the second death in a row

    await sup.spawn("lease", sometimes, critical=True)
    assert runs == 4  # three deaths far apart never exhaust a budget of one restart
    assert fatal == ["lease"]


async def test_a_part_that_returns_is_finished_not_faulty() -> None:
    sup = Supervisor()

    async def finite() -> None:
        await asyncio.sleep(0)

    await sup.spawn("flush", finite)
    assert sup.faults() == {}
    sup.spawn("flush", finite)  # a finished name may be used again
    with pytest.raises(ValueError, match="already running"):
        sup.spawn("flush", finite)
    await sup.aclose()


async def test_reported_faults_last_until_recovered_and_count_once() -> None:
    metrics = Metrics()
    sup = Supervisor(metrics=metrics)
    sup.report("scheduler.sweep", "OperationalError: database is locked")
    sup.report("scheduler.sweep", "OperationalError: database is locked")
    assert sup.faults() == {"scheduler.sweep": "OperationalError: database is locked"}
    assert metric(metrics, "crisisd_part_failures_total", "scheduler.sweep") == 1
    sup.recovered("scheduler.sweep")
    assert sup.faults() == {}
    assert metric(metrics, "crisisd_part_down", "scheduler.sweep") == 0
