"""How the dispatcher waits for a store that cannot answer: doubling pauses, capped.

A PostgreSQL restart, a dropped connection or a locked SQLite file makes every claim and
every record fail for a while. The dispatcher keeps running (nothing in memory is lost:
outcomes not yet recorded are kept, claims stay leased) and tries again after 0.5 s, 1 s,
2 s … up to :data:`CAP`, jittered so that several daemons do not knock in step; the first
success brings it back to full speed and says so in the log.
"""

from __future__ import annotations

import random

import structlog

from crisisd.redaction import redact

log = structlog.get_logger("crisisd.delivery.dispatcher")

BASE = 0.5
CAP = 15.0


class StoreWait:
    """Consecutive store failures of one of the dispatcher's loops, and the next pause."""

    def __init__(self, what: str, rng: random.Random | None = None) -> None:
        self.what = what
        self.failures = 0
        self._rng = rng or random.Random()

    def failed(self, exc: BaseException) -> float:
        """Seconds to wait before the next try; logs the failure (no secret in it)."""
        self.failures += 1
        ceiling = min(CAP, BASE * 2.0 ** (self.failures - 1))
        delay = ceiling * self._rng.uniform(0.5, 1.0)
        log.warning(
            f"dispatch.{self.what}_failed",
            error=redact(str(exc)),
            failures=self.failures,
            retry_in=round(delay, 2),
        )
        return delay

    def ok(self) -> None:
        if self.failures:
            log.info("dispatch.store_back", loop=self.what, after_failures=self.failures)
        self.failures = 0
