"""A pytest plugin: an asyncio test fails when its event loop saw an error nobody handled.

A background task that dies with nobody awaiting it is only reported when the task is
garbage-collected, through the loop's exception handler ("Task exception was never
retrieved"), which by default just logs it: the test passes and the bug ships. Every
asyncio test here runs on a loop whose handler records such reports, and the test fails
at teardown when there were any. aiosmtplib's tests do the same with a warning
(cole/aiosmtplib, tests/conftest.py, ``handle_async_exception``); pytest-asyncio 1.x
takes the loop from the ``pytest_asyncio_loop_factories`` hook.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

# Reports that mean work died unseen. Others (a peer resetting a socket in a fault test,
# say) still reach asyncio's default handler and are logged, as in production.
UNHANDLED = (
    "Task exception was never retrieved",
    "Future exception was never retrieved",
    "Exception in callback",
)

seen: list[str] = []  # tests run one at a time in a process: one list is enough


def describe(context: Mapping[str, Any]) -> str:
    """One line for the failure report: the message, the exception, what held it."""
    message = str(context.get("message", "unhandled error in the event loop"))
    exc = context.get("exception")
    holder = context.get("future") or context.get("handle")
    return f"{message}: {exc!r} ({holder!r})"


def record(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler: remember what matters, log as asyncio would."""
    if str(context.get("message", "")).startswith(UNHANDLED):
        seen.append(describe(context))
    loop.default_exception_handler(context)


def guarded_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(record)
    return loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Any]:
    """Every asyncio test and fixture runs on a guarded loop (one factory: ids unchanged)."""
    return {"guarded": guarded_loop}


@pytest.fixture(autouse=True)
def unhandled_loop_errors() -> Iterator[list[str]]:
    """Fails the test when its loop reported an unhandled error (checked after the loop closed).

    Function-scoped and autouse, so it is set up before pytest-asyncio's loop and torn down
    after it; ``gc.collect()`` then finalises the dead tasks, which is when they report.
    """
    seen.clear()
    yield seen
    gc.collect()
    found, seen[:] = list(seen), []
    if found:
        pytest.fail("unhandled errors in the event loop:\n" + "\n".join(found), pytrace=False)
