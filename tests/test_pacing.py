"""The dispatcher's pacer keeps Telegram's limits: 1 a second per chat, 20 a minute per group."""

from __future__ import annotations

from crisisd.channels.base import ChannelLimits
from crisisd.delivery.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sends_in(pacer: Pacer, clock: Clock, destination: str, seconds: float) -> int:
    """How many sends to ``destination`` the pacer lets through in ``seconds``."""
    end, n = clock.now + seconds, 0
    while clock.now < end:
        wait = pacer.dest_delay(destination)
        if wait > 0:
            clock.now += wait
            continue
        clock.now += pacer.reserve(destination)
        if clock.now < end:
            n += 1
    return n


LIMITS = ChannelLimits(
    max_length=4096, rate_per_second=30, per_destination_per_second=1, per_group_per_second=20 / 60
)


def test_a_group_gets_at_most_twenty_a_minute() -> None:
    clock = Clock()
    assert sends_in(Pacer(LIMITS, clock), clock, "-100123", 60) <= 20


def test_a_person_gets_at_most_one_a_second() -> None:
    clock = Clock()
    n = sends_in(Pacer(LIMITS, clock), clock, "4242", 60)
    assert 55 <= n <= 60
