"""A channel that writes each message as one JSON line to a file (or stdout), for local runs.

Lines look like ``{"key": ..., "channel": ..., "address": ..., "text": ..., "subject": ...,
"at": "2026-03-21T06:30:00+00:00"}``; the crash test counts lines per key.

The write and flush run in a worker thread (``asyncio.to_thread``), one at a time under an
``asyncio.Lock`` so lines never interleave, and the event loop never waits on the disk.
With ``durable=True`` each line is also ``fsync``-ed before ``send`` returns, so a line that
was reported as sent survives a power cut.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from crisisd.channels.base import ChannelLimits, OutboundMessage, SendResult, Sent

# JSON leaves these unescaped, but str.splitlines() breaks lines on them; escape them
# so a line is a line for every reader.
_LINE_BREAKERS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


class ConsoleChannel:
    """Appends one JSON line per message; always ``Sent(provider_id="line:<n>")``."""

    kind = "console"

    def __init__(
        self, name: str = "console", path: Path | None = None, *, durable: bool = False
    ) -> None:
        self.name = name
        self.path = path
        self.durable = durable
        self.limits = ChannelLimits(max_length=1_000_000, rate_per_second=1000.0, concurrency=1)
        self._lock = asyncio.Lock()
        self._file: TextIO | None = None
        self._lines = 0  # lines in the file so far, counted once when it is opened

    async def send(self, msg: OutboundMessage) -> SendResult:
        record = {
            "key": msg.key,
            "channel": msg.channel,
            "address": msg.address,
            "text": msg.text,
            "subject": msg.subject,
            "at": datetime.now(UTC).isoformat(),
        }
        line = json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKERS) + "\n"
        async with self._lock:
            number = await asyncio.to_thread(self._write, line)
        return Sent(provider_id=f"line:{number}")

    async def aclose(self) -> None:
        async with self._lock:
            if self._file is not None and self._file is not sys.stdout:
                await asyncio.to_thread(self._file.close)
            self._file = None

    def _write(self, line: str) -> int:
        """Runs in a worker thread, never two at once (the caller holds the lock)."""
        out = self._open()
        out.write(line)
        out.flush()
        if self.durable and out is not sys.stdout:
            os.fsync(out.fileno())
        self._lines += 1
        return self._lines

    def _open(self) -> TextIO:
        if self._file is not None:
            return self._file
        if self.path is None:
            self._file = sys.stdout
            return self._file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            with self.path.open("rb") as existing:
                self._lines = sum(1 for _ in existing)
        self._file = self.path.open("a", encoding="utf-8", newline="\n")
        return self._file
