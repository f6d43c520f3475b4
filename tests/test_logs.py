"""The daemon's real logging pipeline masks secrets.

``structlog.testing.capture_logs()`` swaps the processors out, so tests that use it never
run the redaction processor. Here crisisd.logs configures structlog and the standard
library exactly as the daemon does, writing JSON lines to a buffer, and the lines are read.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from crisisd import logs, redaction

SECRET = "123456:PIPELINE-REDACTION-SECRET"  # a bot token, as config loading registers it
URL = f"https://tapi.bale.ai/bot{SECRET}/sendMessage"


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """crisisd.logs' pipeline writing to a buffer; structlog and logging restored after."""
    buffer = io.StringIO()
    saved_config = structlog.get_config()
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved_levels = {name: logging.getLogger(name).level for name in logs.QUIET}
    monkeypatch.setattr(sys, "stderr", buffer)  # the handler is built on sys.stderr
    logs.configure("info", json=True)
    try:
        yield buffer
    finally:
        structlog.configure(**saved_config)
        root.handlers[:], level = saved_root
        root.setLevel(level)
        for name, lvl in saved_levels.items():
            logging.getLogger(name).setLevel(lvl)


def fail(exc: Exception) -> None:
    """Raise ``exc`` (a library failing with a secret in its message)."""
    raise exc


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_a_registered_secret_is_masked_everywhere_a_log_line_can_carry_it(
    pipeline: io.StringIO,
) -> None:
    redaction.register(SECRET)
    log = structlog.get_logger("crisisd.test")
    log.info("delivery.sent", url=URL, detail={"tried": [URL, "ok"]})
    try:
        fail(ConnectionError(f"cannot reach {URL}"))
    except ConnectionError:
        log.exception("delivery.crashed")
    # A library logging through the standard library (aiohttp, PTB, APScheduler).
    logging.getLogger("aiohttp.client").warning("GET %s failed", URL)
    try:
        fail(RuntimeError(f"token {SECRET} refused"))
    except RuntimeError:
        logging.getLogger("telegram.ext").exception("update failed")

    written = pipeline.getvalue()
    events = lines(pipeline)
    assert [e["event"] for e in events] == [
        "delivery.sent",
        "delivery.crashed",
        f"GET {URL.replace(SECRET, redaction.MASK)} failed",
        "update failed",
    ]
    assert SECRET not in written
    assert "PIPELINE-REDACTION" not in written  # no part of it either
    assert events[0]["url"] == f"https://tapi.bale.ai/bot{redaction.MASK}/sendMessage"
    assert events[0]["detail"]["tried"][0] == events[0]["url"]
    assert "ConnectionError" in events[1]["exception"]  # the traceback is kept, masked
    assert redaction.MASK in events[3]["exception"]
    assert {e["level"] for e in events} == {"info", "error", "warning"}


def test_an_unregistered_value_is_left_alone(pipeline: io.StringIO) -> None:
    """The processor masks what config registered, not everything that looks like a token."""
    structlog.get_logger("crisisd.test").info("delivery.sent", chat="4242", provider_id="abc-9")
    (event,) = lines(pipeline)
    assert (event["chat"], event["provider_id"]) == ("4242", "abc-9")
    assert event["logger"] == "crisisd.test"
