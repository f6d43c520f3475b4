"""Fault injection shared by every fake service: error rate, 429, latency, hangs, drops."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

FaultMode = Literal[
    "none", "error", "rate_limit", "hang", "drop", "garbage", "permanent", "no_credit"
]


@dataclass(slots=True)
class Faults:
    """Mutable fault settings of one fake; changed at run time through the control API.

    ``mode`` applies to the next ``count`` requests (``None`` = every request) or, with
    ``rate`` < 1, to that fraction of requests chosen at random.
    """

    mode: FaultMode = "none"
    rate: float = 1.0
    count: int | None = None
    retry_after: int = 1
    latency_ms: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def take(self) -> FaultMode:
        """The fault to apply to this request (and consume one of ``count``)."""
        if self.mode == "none":
            return "none"
        if self.count is not None:
            if self.count <= 0:
                self.mode = "none"
                return "none"
            self.count -= 1
        if self.rate < 1.0 and self.rng.random() >= self.rate:
            return "none"
        return self.mode

    def update(self, data: dict[str, object]) -> None:
        """Apply a control-API JSON body: {"mode": ..., "rate": ..., "count": ..., ...}."""
        mode = data.get("mode", self.mode)
        allowed = (
            "none",
            "error",
            "rate_limit",
            "hang",
            "drop",
            "garbage",
            "permanent",
            "no_credit",
        )
        if mode not in allowed:
            raise ValueError(f"unknown fault mode {mode!r}; one of {', '.join(allowed)}")
        self.mode = mode  # type: ignore[assignment]
        self.rate = float(data.get("rate", 1.0))  # type: ignore[arg-type]
        count = data.get("count")
        self.count = int(count) if count is not None else None  # type: ignore[call-overload]
        self.retry_after = int(data.get("retry_after", self.retry_after))  # type: ignore[call-overload]
        self.latency_ms = int(data.get("latency_ms", self.latency_ms))  # type: ignore[call-overload]

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "rate": self.rate,
            "count": self.count,
            "retry_after": self.retry_after,
            "latency_ms": self.latency_ms,
        }
