"""Logging: structlog everywhere, JSON lines off a terminal, readable on one, secrets masked.

Standard-library records (aiohttp, httpx, python-telegram-bot, APScheduler) go through the
same processors, so the redaction covers them too; httpx logs every request URL — with a
bot token in the path — at INFO, so it is held at WARNING.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from crisisd import redaction

QUIET = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.WARNING,
    "apscheduler": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "asyncio": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "alembic": logging.WARNING,
    "mail.log": logging.WARNING,
}


def configure(level: str = "info", json: bool | None = None) -> None:
    """Set up structlog and the standard library for the daemon (idempotent)."""
    if json is None:
        json = not sys.stderr.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redaction.structlog_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(_level(level)),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_level(level))
    for name, lvl in QUIET.items():
        logging.getLogger(name).setLevel(max(lvl, _level(level)))


def _level(name: str) -> int:
    return int(getattr(logging, name.upper(), logging.INFO))
