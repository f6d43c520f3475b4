"""The dispatcher's pacer keeps Telegram's limits: 1 a second per chat, 20 a minute per group."""

from __future__ import annotations

import itertools

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


def test_a_429_for_the_whole_bot_pauses_every_send_then_resumes_at_half_the_rate() -> None:
    clock = Clock()
    pacer = Pacer(LIMITS, clock)
    full = pacer.gap
    assert pacer.pause(3.0) == 0.5
    assert pacer.paused() == 3.0
    assert pacer.reserve_slot() >= 3.0  # no slot inside the penalty, whoever asks
    assert pacer.reserve("1001") >= 3.0  # the bots' replies share the pacer: they wait too
    clock.now += 3.0
    assert pacer.paused() == 0.0
    assert pacer.gap == 2 * full  # half the rate that tripped
    clock.now += 30.0
    assert full < pacer.gap < 2 * full  # climbing back
    clock.now += 31.0
    assert pacer.gap == full


def test_repeated_429s_keep_halving_down_to_a_floor() -> None:
    clock = Clock()
    pacer = Pacer(LIMITS, clock)
    shares = [pacer.pause(1.0) for _ in range(8)]
    assert shares[:3] == [0.5, 0.25, 0.125]
    assert min(shares) == 1 / 16


def test_a_chat_sent_to_at_its_own_rate_explains_its_429() -> None:
    clock = Clock()
    pacer = Pacer(LIMITS, clock)
    pacer.hold_destination("1001")
    assert not pacer.chat_explains("1001")  # one send: nothing about this chat explains it
    clock.now += pacer.dest_gap("1001")
    pacer.hold_destination("1001")
    assert pacer.chat_explains("1001")  # a stream at about 1 a second: the chat's own limit
    pacer.hold("1001", 5.0)
    assert pacer.dest_delay("1001") == 5.0 and pacer.paused() == 0.0  # only that chat waits


def test_a_slot_reached_late_never_puts_two_requests_closer_than_the_rate() -> None:
    """Workers reserve slots ahead and may wake late (a busy loop): the send times that
    result never hold more than the published rate in any one-second window."""
    clock = Clock()
    pacer = Pacer(LIMITS, clock)
    slots = [clock.now + pacer.reserve_slot() for _ in range(300)]  # workers' reservations
    lateness = [0.0 if i % 7 else 0.045 for i in range(len(slots))]  # every 7th wakes late
    sent: list[float] = []
    for i, (slot, late) in enumerate(zip(slots, lateness, strict=True)):
        clock.now = max(clock.now, slot + late)
        clock.now += pacer.hold_destination(f"chat-{i}")
        sent.append(clock.now)
    assert all(b - a >= 1 / 30 - 1e-9 for a, b in itertools.pairwise(sent))
    assert max(sum(1 for t in sent if s <= t < s + 1.0) for s in sent) <= 30
    assert sent[-1] - sent[0] < 300 / 30 * 1.1  # the usual wake costs nothing, a late one little
