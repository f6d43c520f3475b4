"""Sends bounded in time by one watch (delivery/sendwatch.py), as asyncio.timeout bounds them."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from crisisd.delivery.sendwatch import SendWatch


async def hang() -> str:
    await asyncio.Event().wait()
    return "never"


async def quick() -> str:
    await asyncio.sleep(0)
    return "sent"


async def stubborn() -> str:
    """A send that swallows its cancellation and answers anyway."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        return "answered"
    return "never"


async def watched(watch: SendWatch) -> asyncio.Task[None]:
    return asyncio.create_task(watch.run())


async def test_a_hung_send_ends_in_timeout_error_and_the_task_is_not_left_cancelled() -> None:
    watch = SendWatch(every=0.01)
    runner = await watched(watch)
    try:
        with pytest.raises(TimeoutError):
            await watch.bounded(hang(), 0.05)
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        assert await watch.bounded(quick(), 0.05) == "sent"  # the next send is untouched
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_a_cancellation_from_elsewhere_goes_on_as_it_came() -> None:
    watch = SendWatch(every=0.01)
    runner = await watched(watch)
    try:
        sender = asyncio.create_task(watch.bounded(hang(), 30))
        await asyncio.sleep(0.05)
        sender.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sender
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_a_send_that_answers_despite_the_cut_keeps_its_answer() -> None:
    watch = SendWatch(every=0.01)
    runner = await watched(watch)
    try:
        assert await watch.bounded(stubborn(), 0.02) == "answered"
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        await asyncio.sleep(0.03)  # no cancellation is left pending for this task
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
